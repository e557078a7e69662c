"""The one training step of the one loop (nas/train/trainer.py): L1 loss, Adam, cosine schedule
with optional warm-up.

A step never reads its loss back: reading makes the CPU wait for the GPU, so it could not queue
the next step. :class:`LossLog` keeps the losses on the device and reads them all at once, where
the trainer asks (validations, the end of an ``advance``, every ``sync_every`` steps); a NaN or
infinite loss fails the training there, naming the step it happened at.

:class:`StepFunction` is the step itself (forward, L1, backward, Adam). Eager training calls it
on each batch; :class:`CudaGraphStep` captures the very same callable once in a CUDA graph and
replays it (bench/README.md, "GPU").
"""

from __future__ import annotations

import logging
import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F

from ..device import Precision

__all__ = [
    "NonFiniteLoss",
    "make_optimizer",
    "StepFunction",
    "train_step",
    "LossLog",
    "first_non_finite",
    "CudaGraphStep",
]

log = logging.getLogger(__name__)


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite: ``step`` is the first step whose loss was."""

    def __init__(self, value: float, step: int) -> None:
        super().__init__(f"loss is {value} at step {step}")
        self.value, self.step = value, step

    def __reduce__(self):
        return type(self), (self.value, self.step)


def make_optimizer(
    model: torch.nn.Module,
    lr: float,
    total_steps: int,
    warmup_steps: int = 0,
    capturable: bool = False,
):
    """Adam with a cosine schedule from ``lr`` down to ``lr / 100`` over ``total_steps``; with
    ``warmup_steps``, the first steps rise linearly to ``lr`` (k/warmup_steps) and the cosine takes
    the rest. Warm-up keeps Adam's first, badly estimated steps from throwing a deep, wide network
    off (bench/README.md, "Learning-rate warm-up"). ``capturable`` (a CUDA graph's optimizer):
    Adam's state and the learning rate live on the model's device, so a captured step reads the
    rate the schedule sets."""
    if capturable:
        device = next(model.parameters()).device
        rate = torch.tensor(lr, dtype=torch.float32, device=device)
        optimizer = torch.optim.Adam(model.parameters(), lr=rate, capturable=True)
    else:
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


class StepFunction:
    """One step of L1 to each of K targets, averaged (K = 1: plain L1; K = 2: distillation's step
    four), then Adam: ``step(noisy, targets)`` returns the loss, a detached float32 scalar on the
    batch's device, unread. ``targets`` holds K x C channels, K images of the network's C
    channels one after another. In ``precision`` (default float32) and with its gradient scaler
    for fp16. Without a scaler it does nothing a CUDA graph cannot capture (no host reads; autocast
    without its weight cache), so the graph path captures this same callable."""

    def __init__(self, model, optimizer, precision: Precision | None = None) -> None:
        self.model, self.optimizer, self.precision = model, optimizer, precision

    def _autocast(self, device_type: str):
        precision = self.precision
        if precision is None or precision.dtype is None:
            return nullcontext()
        return torch.autocast(device_type, dtype=precision.dtype, cache_enabled=False)

    def __call__(self, noisy: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with self._autocast(noisy.device.type):
            prediction = self.model(noisy).float()
            n, c, h, w = prediction.shape
            per_target = targets.view(n, -1, c, h, w)
            loss = F.l1_loss(prediction[:, None].expand_as(per_target), per_target)
        self.optimizer.zero_grad(set_to_none=True)
        scaler = self.precision.scaler if self.precision is not None else None
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(self.optimizer)
            scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return loss.detach()


def train_step(
    model,
    optimizer,
    schedule,
    noisy: torch.Tensor,
    targets: torch.Tensor,
    precision: Precision | None = None,
) -> torch.Tensor:
    """One eager :class:`StepFunction` step, then the schedule's; the loss, unread (a 0-d tensor
    on the batch's device: ``float(loss)`` reads it). Runs on the device of the batch, in
    ``precision`` (default float32)."""
    precision = precision or Precision(noisy.device.type)
    loss = StepFunction(model, optimizer, precision)(noisy, targets)
    schedule.step()
    return loss


class LossLog:
    """The losses of the steps since the last :meth:`read`, kept on the device."""

    def __init__(self) -> None:
        self.pending: list[torch.Tensor] = []
        self.first_step = 1

    def add(self, step: int, loss: torch.Tensor) -> None:
        """Record ``loss`` (a 0-d tensor) of training step ``step`` (counted from 1)."""
        if not self.pending:
            self.first_step = step
        self.pending.append(loss)

    def read(self) -> tuple[int, list[float]]:
        """(first step, the losses of the steps since the last read) in one transfer from the
        device; empties the log."""
        if not self.pending:
            return self.first_step, []
        values = torch.stack(self.pending).tolist()
        self.pending = []
        return self.first_step, values


def first_non_finite(values: list[float]) -> int | None:
    """The index of the first NaN or infinite value (None if all are finite)."""
    return next((i for i, value in enumerate(values) if not math.isfinite(value)), None)


class CudaGraphStep:
    """A :class:`StepFunction` captured once in a CUDA graph and replayed for every later batch.

    The first ``warmup`` calls run eagerly on a side stream (real training steps, which also let
    Adam create its state and cuDNN choose its algorithms); the next call copies its batch into
    static input buffers, captures the step, and replays it; every later call copies its batch in
    and replays. The shapes must stay fixed (a proxy's batch and patch sizes are). With
    ``capture`` false (the CPU, in the tests) the same sequence runs with the captured step
    called eagerly on the static buffers instead of replayed. With ``fallback`` (``cuda_graphs:
    auto``), a capture that fails is logged and the steps go on eagerly; without, it raises.
    """

    def __init__(
        self, step: StepFunction, warmup: int = 3, capture: bool = True, fallback: bool = False
    ) -> None:
        self.step, self.warmup, self.capture, self.fallback = step, warmup, capture, fallback
        self.calls, self.eager = 0, False
        self.graph, self.side = None, None
        self.static: tuple[torch.Tensor, torch.Tensor] | None = None
        self.static_loss: torch.Tensor | None = None

    def __call__(self, noisy: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.eager:
            return self.step(noisy, targets)
        if self.calls <= self.warmup:
            return self._eager(noisy, targets)
        if self.static is None:
            self.static = (noisy.clone(), targets.clone())
            try:
                self._capture()
            except RuntimeError as err:
                if not self.fallback:
                    raise
                log.warning("CUDA graph capture failed, eager training steps: %s", err)
                self.eager, self.static, self.graph = True, None, None
                return self.step(noisy, targets)
        else:
            if noisy.shape != self.static[0].shape or targets.shape != self.static[1].shape:
                raise ValueError(
                    f"a CUDA graph replays fixed shapes: captured {tuple(self.static[0].shape)}, "
                    f"given {tuple(noisy.shape)}"
                )
            self.static[0].copy_(noisy)
            self.static[1].copy_(targets)
        if self.graph is None:
            return self.step(*self.static)
        self.graph.replay()
        return self.static_loss.clone()

    def _eager(self, noisy, targets) -> torch.Tensor:
        if not self.capture:
            return self.step(noisy, targets)
        if self.side is None:
            self.side = torch.cuda.Stream(noisy.device)
        side = self.side
        side.wait_stream(torch.cuda.current_stream(noisy.device))
        with torch.cuda.stream(side):
            loss = self.step(noisy, targets)
        torch.cuda.current_stream(noisy.device).wait_stream(side)
        return loss

    def _capture(self) -> None:
        if not self.capture:
            return
        graph = torch.cuda.CUDAGraph()
        self.step.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            self.static_loss = self.step(*self.static)
        self.graph = graph
