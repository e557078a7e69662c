"""A training's resumable checkpoint (``last.pt``): weights, optimizer, schedule, RNG states,
step, best PSNR and the validations so far; written atomically after each validation."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from models import WeightsError, load_state_dict_strict

from ..atomic import atomic_path
from .config import TrainError
from .hooks import Hook

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint"]

# The settings a resumed run must share with its checkpoint (older checkpoints lack warm-up).
_SAME = {"steps": None, "seed": None, "warmup_steps": 0}


class Checkpoint(Hook):
    """Writes the resumable checkpoint at every validation."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_validation(self, trainer, record, improved) -> None:
        save_checkpoint(self.path, trainer)


def save_checkpoint(path: Path, trainer: Trainer) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "spec": trainer.spec.to_dict(),
                "config": trainer.config.model_dump(mode="json"),
                "state_dict": trainer.model.state_dict(),
                "optimizer": trainer.optimizer.state_dict(),
                "schedule": trainer.schedule.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "generator": trainer.generator.get_state(),
                "step": trainer.step,
                "best_psnr": trainer.best_psnr,
                "history": [record.row() for record in trainer.history],
            },
            tmp,
        )


def load_checkpoint(path: Path, trainer: Trainer) -> None:
    """Put ``trainer`` where the checkpoint at ``path`` left it; TrainError (one line) if the file
    is not a checkpoint of this run."""
    from .trainer import Validation

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
            raise TrainError(f"cannot resume from {path}: not a checkpoint of nas.train")
        _check_same_run(path, saved, trainer)
        load_state_dict_strict(trainer.model, saved["state_dict"], source=str(path))
        trainer.optimizer.load_state_dict(saved["optimizer"])
        trainer.schedule.load_state_dict(saved["schedule"])
        torch.set_rng_state(saved["torch_rng"])
        trainer.generator.set_state(saved["generator"])
        trainer.step = int(saved["step"])
        trainer.best_psnr = float(saved["best_psnr"])
        trainer.history = [Validation.from_row(row) for row in saved["history"]]
    except TrainError:
        raise
    except WeightsError as err:
        raise TrainError(f"cannot resume from {path}: {err}") from None
    except (
        KeyError,
        RuntimeError,
        EOFError,
        pickle.UnpicklingError,
        IndexError,
        ValueError,
        TypeError,
    ) as err:
        # a junk, truncated or foreign file, or a state (optimizer, RNG) that is not this run's
        raise TrainError(
            f"cannot resume from {path}: not a checkpoint of this run ({type(err).__name__}: {err})"
        ) from None


def _check_same_run(path: Path, saved: dict, trainer: Trainer) -> None:
    config = trainer.config
    was = {name: saved["config"].get(name, default) for name, default in _SAME.items()}
    now = {name: getattr(config, name) for name in _SAME}
    if was != now:
        started = " ".join(f"{name}={value}" for name, value in was.items())
        raise TrainError(
            f"cannot resume from {path}: it was started with {started}; resume with the same "
            "settings"
        )
    if saved.get("spec") != trainer.spec.to_dict():
        raise TrainError(
            f"cannot resume from {path}: it trains another architecture; resume with its --arch, "
            "or choose another --out"
        )
