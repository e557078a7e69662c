"""The one training step of the one loop (nas/train/trainer.py): L1 loss, Adam, cosine schedule
with optional warm-up."""

from __future__ import annotations

import math
import torch
import torch.nn.functional as F

from ..device import Precision

__all__ = ["NonFiniteLoss", "make_optimizer", "train_step"]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite."""


def make_optimizer(model: torch.nn.Module, lr: float, total_steps: int, warmup_steps: int = 0):
    """Adam with a cosine schedule from ``lr`` down to ``lr / 100`` over ``total_steps``; with
    ``warmup_steps``, the first steps rise linearly to ``lr`` (k/warmup_steps) and the cosine takes
    the rest. Warm-up keeps Adam's first, badly estimated steps from throwing a deep, wide network
    off (bench/README.md, "Learning-rate warm-up")."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if warmup_steps <= 0:
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(total_steps, 1), eta_min=lr / 100
        )
        return optimizer, schedule
    decay_steps = max(total_steps - warmup_steps, 1)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return (
            0.01
            + 0.99
            * (1 + math.cos(math.pi * min(step - warmup_steps, decay_steps) / decay_steps))
            / 2
        )

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_step(
    model,
    optimizer,
    schedule,
    noisy: torch.Tensor,
    targets: torch.Tensor,
    precision: Precision | None = None,
) -> float:
    """One step of L1 to each of K targets, averaged (K = 1: plain L1; K = 2: distillation's step
    four). ``targets`` holds K x C channels, K images of the network's C channels one after
    another. Runs on the device of the batch, in ``precision`` (default float32). Raises
    NonFiniteLoss on NaN or infinity, before the weights change."""
    precision = precision or Precision(noisy.device.type)
    with precision.autocast():
        prediction = model(noisy).float()
        n, c, h, w = prediction.shape
        per_target = targets.view(n, -1, c, h, w)
        loss = F.l1_loss(prediction[:, None].expand_as(per_target), per_target)
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLoss(f"loss is {value}")
    optimizer.zero_grad(set_to_none=True)
    scaler = precision.scaler
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    schedule.step()
    return value
