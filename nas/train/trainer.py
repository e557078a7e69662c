"""The one training loop: the search's proxy fitness and full training both run a :class:`Trainer`.

A Trainer is built from a spec, a patch sampler, validation blocks, a :class:`TrainConfig` and
optional initial weights; ``advance(to_step)`` trains up to that step, validates and returns a
:class:`TrainResult`. Hooks (nas/train/hooks.py, nas/train/checkpoint.py) add what a caller wants
around the loop: TensorBoard, metrics, best weights, resumable checkpoints, a progress bar.

:func:`train_network` is full training: validation every ``val_every`` steps, and in the output
folder

    last.pt        model, optimizer, schedule, step, RNG states (resume from here)
    best.pt        model file (spec + weights) with the best validation PSNR so far
    final.pt       model file of the last step (written when training ends)
    metrics.csv    step, train_l1, val_psnr, lr, seconds
    tensorboard/   the training loss of every step and the validation PSNR

On a GPU the loop does not wait for the device between steps: the losses are read back every
``sync_every`` steps, at validations and at the end of each ``advance`` (a NaN or infinite loss
fails the training there with the step it happened at); the batches can be made on the device
(``device_batches``) and the step replayed from a CUDA graph (``cuda_graphs``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import torch

from models import ArchSpec, build_model, load_state_dict_strict

from ..arch import save_model_file
from ..data import BlockSet, PatchSampler
from ..device import DeviceError, Precision, resolve_device, to_device
from ..scoring import evaluate_blocks, summarize
from .checkpoint import Checkpoint, load_checkpoint
from .config import TrainConfig, TrainError
from .hooks import BestWeights, Hook, MetricsLog, ProgressBar, TensorBoardLog
from .loop import (
    CudaGraphStep,
    LossLog,
    NonFiniteLoss,
    StepFunction,
    first_non_finite,
    make_optimizer,
)

__all__ = [
    "TrainConfig",
    "TrainError",
    "Validation",
    "TrainResult",
    "Trainer",
    "TrainSummary",
    "train_network",
    "graph_reason",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Validation:
    """One validation: the step, the mean training L1 since the previous validation, the
    validation PSNR (and SSIM where computed), the learning rate and the seconds trained."""

    step: int
    train_l1: float
    psnr: float
    ssim: float | None
    lr: float
    seconds: float

    def row(self) -> dict:
        """The row of metrics.csv and of a checkpoint's history."""
        row = {
            "step": self.step,
            "train_l1": self.train_l1,
            "val_psnr": self.psnr,
            "lr": self.lr,
            "seconds": self.seconds,
        }
        return row if self.ssim is None else {**row, "val_ssim": self.ssim}

    @classmethod
    def from_row(cls, row: dict) -> "Validation":
        ssim = row.get("val_ssim")
        return cls(
            step=int(row["step"]),
            train_l1=float(row["train_l1"]),
            psnr=float(row["val_psnr"]),
            ssim=None if ssim is None else float(ssim),
            lr=float(row["lr"]),
            seconds=float(row["seconds"]),
        )


@dataclass(frozen=True)
class TrainResult:
    """A training so far: its step, the last validation's PSNR and SSIM (None where not
    computed), the last training loss (None before the first step of this process), the seconds
    spent in ``advance``, the curve of (step, validation PSNR) and the best PSNR."""

    step: int
    psnr: float
    ssim: float | None
    final_loss: float | None
    seconds: float
    curve: tuple[tuple[int, float], ...]
    best_psnr: float


class Trainer:
    """One network's training: L1, Adam with a (warmed-up) cosine schedule, in the config's
    precision and memory format, on its device; validated every ``val_every`` steps and at each
    ``advance``. The seed sets the initial weights (unless ``init_state`` is given) and the order
    of the batches."""

    def __init__(
        self,
        spec: ArchSpec,
        sampler: PatchSampler,
        val_blocks: BlockSet,
        config: TrainConfig,
        init_state: dict | None = None,
        hooks: Iterable[Hook] = (),
        with_ssim: bool = True,
        device: torch.device | None = None,
    ) -> None:
        self.spec, self.sampler, self.val_blocks, self.config = spec, sampler, val_blocks, config
        self.hooks, self.with_ssim = list(hooks), with_ssim
        # a device object (a Ray trial's GPU, a test's meta device) wins over the config's name
        self.device = device if device is not None else resolve_device(config.device)
        self.precision = Precision.for_device(self.device, config.amp)
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        torch.manual_seed(config.seed)  # before the model is built: the seed sets the weights
        self.model = build_model(spec).to(self.device, memory_format=self.memory_format)
        if init_state is not None:
            load_state_dict_strict(self.model, init_state, source="initial weights")
        graphs = _use_graphs(config.cuda_graphs, self.device, self.precision)
        self.optimizer, self.schedule = make_optimizer(
            self.model, config.lr, config.steps, config.warmup_steps, capturable=graphs
        )
        step = StepFunction(self.model, self.optimizer, self.precision)
        fallback = config.cuda_graphs == "auto"
        self.step_function = CudaGraphStep(step, fallback=fallback) if graphs else step
        self.batches = _batch_sampler(sampler, self.device, config.device_batches)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step, self.best_psnr, self.history = 0, -math.inf, []
        self.final_loss: float | None = None
        self.seconds, self._losses = 0.0, []
        self.loss_log = LossLog()

    def advance(self, to_step: int) -> TrainResult:
        """Train up to ``to_step`` steps in all (at most ``config.steps``), validating every
        ``val_every`` steps on the way and at the end; the result at the last validation.
        NonFiniteLoss if a loss was NaN or infinite (found at the next read of the losses)."""
        target, started = min(to_step, self.config.steps), time.perf_counter()
        self.model.train()
        while self.step < target:
            self._train_one()
            if self.step % self.config.val_every == 0 and self.step < target:
                self._validate(self.seconds + time.perf_counter() - started)
                self.model.train()
            elif self.step % self.config.sync_every == 0:
                self.read_losses()
        if not self.history or self.history[-1].step != self.step:
            self._validate(self.seconds + time.perf_counter() - started)
        self.read_losses()
        self.seconds += time.perf_counter() - started
        return self.result()

    def _train_one(self) -> None:
        config = self.config
        noisy, targets = self.batches.sample(config.batch_size, config.patch_size, self.generator)
        noisy = to_device(noisy, self.device).contiguous(memory_format=self.memory_format)
        targets = to_device(targets, self.device)
        loss = self.step_function(noisy, targets)
        self.schedule.step()
        self.step += 1
        self.loss_log.add(self.step, loss)
        for hook in self.hooks:
            hook.on_step(self)

    def read_losses(self) -> None:
        """Read the losses of the steps since the last read (one wait for the device) and hand
        them to the hooks; NonFiniteLoss, after the steps before it, at a NaN or infinite one."""
        first, values = self.loss_log.read()
        bad = first_non_finite(values)
        finite = values if bad is None else values[:bad]
        if finite:
            self._losses.extend(finite)
            self.final_loss = finite[-1]
            for hook in self.hooks:
                hook.on_losses(self, first, finite)
        if bad is not None:
            raise NonFiniteLoss(values[bad], first + bad)

    def _validate(self, seconds: float) -> None:
        self.read_losses()
        summary = summarize(evaluate_blocks(self.model, self.val_blocks, with_ssim=self.with_ssim))
        record = Validation(
            step=self.step,
            train_l1=sum(self._losses) / max(len(self._losses), 1),
            psnr=summary["psnr"],
            ssim=summary["ssim"] if self.with_ssim else None,
            lr=float(self.schedule.get_last_lr()[0]),
            seconds=seconds,
        )
        self._losses = []
        improved = record.psnr > self.best_psnr
        if improved:
            self.best_psnr = record.psnr
        self.history.append(record)
        for hook in self.hooks:
            hook.on_validation(self, record, improved)

    def result(self) -> TrainResult:
        """The training so far, at its last validation."""
        last = self.history[-1]
        return TrainResult(
            step=self.step,
            psnr=last.psnr,
            ssim=last.ssim,
            final_loss=self.final_loss,
            seconds=self.seconds,
            curve=tuple((record.step, record.psnr) for record in self.history),
            best_psnr=self.best_psnr,
        )

    def close(self) -> None:
        """Close the hooks (TensorBoard writers, progress bars)."""
        for hook in self.hooks:
            hook.close()
        self.hooks = []


def graph_reason(mode: str, device: torch.device, precision: Precision) -> str | None:
    """Why the training step cannot be a CUDA graph here (None: it can)."""
    if mode == "off":
        return "cuda_graphs is off"
    if device.type != "cuda":
        return f"the training runs on {device.type}, not a CUDA device"
    if precision.scaler is not None:
        return "fp16's gradient scaler reads the GPU each step (use amp bf16 or off)"
    return None


def _use_graphs(mode: str, device: torch.device, precision: Precision) -> bool:
    reason = graph_reason(mode, device, precision)
    if reason is not None and mode == "on":
        raise DeviceError(f"cuda_graphs on: {reason}")
    if reason is not None and mode == "auto":
        # on a CPU there is nothing to fall back from: say so only to whoever asks for detail
        level = logging.INFO if device.type == "cuda" else logging.DEBUG
        log.log(level, "CUDA graphs: eager training steps, as %s", reason)
    return reason is None


def _batch_sampler(sampler: PatchSampler, device: torch.device, mode: str) -> PatchSampler:
    """The sampler that makes the training batches: ``sampler`` itself (CPU batches, copied to
    the device) or its on-device counterpart."""
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return sampler
    on_device = sampler.on_device(device)
    if on_device is not None:
        return on_device
    reason = f"the training source ({type(sampler).__name__}) makes its batches on the CPU"
    if mode == "on":
        raise TrainError(f"device_batches on: {reason}")
    log.info("device batches: %s; they are copied to %s", reason, device)
    return sampler


@dataclass(frozen=True)
class TrainSummary:
    """A finished full training: the best validation PSNR, the steps, and its files."""

    best_psnr: float
    steps: int
    best: Path
    final: Path
    metrics: Path


def train_network(
    spec: ArchSpec,
    sampler: PatchSampler,
    val_blocks: BlockSet,
    out_dir: Path,
    config: TrainConfig,
    init_state: dict | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainSummary:
    """Train ``spec`` in full (from ``init_state`` weights if given) into ``out_dir``. With
    ``resume``, continue from ``out_dir/last.pt``; a finished run returns at once."""
    out_dir = Path(out_dir)
    last = out_dir / "last.pt"
    if last.exists() and not resume:
        raise TrainError(
            f"{out_dir} already holds a training run; pass --resume to continue it or choose "
            "another --out"
        )
    trainer = Trainer(spec, sampler, val_blocks, config, init_state, with_ssim=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    if resume and last.exists():
        load_checkpoint(last, trainer)
    trainer.hooks = [
        TensorBoardLog(out_dir / "tensorboard", purge_step=trainer.step or None),
        MetricsLog(out_dir / "metrics.csv"),
        BestWeights(out_dir / "best.pt"),
        Checkpoint(last),
        ProgressBar(config.steps, trainer.step, f"train {out_dir.name}", enabled=progress),
    ]
    try:
        trainer.advance(config.steps)
    finally:
        trainer.close()
    final = out_dir / "final.pt"
    save_model_file(final, spec, trainer.model.state_dict(), step=trainer.step)
    return TrainSummary(
        trainer.best_psnr, trainer.step, out_dir / "best.pt", final, out_dir / "metrics.csv"
    )
