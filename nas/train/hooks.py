"""What a caller adds around the training loop: each hook hears of every step and validation,
and of the training losses whenever the trainer reads them back from the device (every
``sync_every`` steps, at validations, at the end of an ``advance``: a step itself never waits
for the device to read its loss).

The search's fitness uses :class:`TensorBoardLog` alone; full training all of them and the
resumable checkpoint (nas/train/checkpoint.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tqdm.auto import tqdm

from ..arch import save_model_file
from ..atomic import atomic_write_text

if TYPE_CHECKING:
    from .trainer import Trainer, Validation

__all__ = ["Hook", "TensorBoardLog", "MetricsLog", "BestWeights", "ProgressBar"]

log = logging.getLogger(__name__)


class Hook:
    """Does nothing; subclasses override what they need."""

    def on_step(self, trainer: Trainer) -> None:
        """After each training step (``trainer.step`` counts it); its loss is not read yet."""

    def on_losses(self, trainer: Trainer, first_step: int, losses: list[float]) -> None:
        """The losses of steps ``first_step``, ``first_step + 1``, ... as read back from the
        device (only finite ones: a NaN or infinite loss ends the training after its
        predecessors are handed here)."""

    def on_validation(self, trainer: Trainer, record: Validation, improved: bool) -> None:
        """After each validation; ``improved``: its PSNR is the best so far."""

    def close(self) -> None:
        """When the training ends or fails."""


class TensorBoardLog(Hook):
    """``train/l1`` at every step, ``val/psnr`` (and ``val/ssim``) at every validation."""

    def __init__(self, directory: str | Path, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow to import: only when asked

        self.writer = SummaryWriter(str(directory), purge_step=purge_step)

    def on_losses(self, trainer, first_step, losses) -> None:
        for step, loss in enumerate(losses, first_step):
            self.writer.add_scalar("train/l1", loss, step)

    def on_validation(self, trainer, record, improved) -> None:
        self.writer.add_scalar("val/psnr", record.psnr, record.step)
        if record.ssim is not None:
            self.writer.add_scalar("val/ssim", record.ssim, record.step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class MetricsLog(Hook):
    """Rewrites ``path`` (CSV, atomically) with every validation so far, and logs each."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_validation(self, trainer, record, improved) -> None:
        rows = [r.row() for r in trainer.history]
        atomic_write_text(self.path, pd.DataFrame(rows).to_csv(index=False))
        log.info(
            "step %d  train L1 %.5f  val PSNR %.3f dB", record.step, record.train_l1, record.psnr
        )


class BestWeights(Hook):
    """The model file (spec + weights) of the best validation PSNR so far."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_validation(self, trainer, record, improved) -> None:
        if improved:
            save_model_file(
                self.path,
                trainer.spec,
                trainer.model.state_dict(),
                step=record.step,
                val_psnr=record.psnr,
            )


class ProgressBar(Hook):
    """A tqdm bar over the steps (none when not ``enabled``)."""

    def __init__(self, total: int, initial: int, desc: str, enabled: bool = True) -> None:
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", disable=not enabled)

    def on_step(self, trainer) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
