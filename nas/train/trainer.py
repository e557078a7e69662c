"""Full training of one network: validation every K steps, resumable checkpoints, best and last
weights, metrics as CSV and TensorBoard, mixed precision on GPU.

Files in the output folder:
    last.pt        model, optimizer, schedule, step, RNG states (resume from here)
    best.pt        model file (spec + weights) with the best validation PSNR so far
    final.pt       model file of the last step (written when training ends)
    metrics.csv    step, train_l1, val_psnr, lr, seconds
    tensorboard/   the same curves
"""

from __future__ import annotations

import logging
import math
import pickle
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from models import ArchSpec, WeightsError, build_model, load_state_dict_strict

from ..arch import save_model_file
from ..atomic import atomic_path, atomic_write_text
from ..data import BlockSet, PatchSampler
from ..device import Precision, resolve_device, to_device
from ..scoring import evaluate_blocks, summarize
from .loop import make_optimizer, train_step

__all__ = ["TrainConfig", "train_network", "TrainError"]

log = logging.getLogger(__name__)


class TrainError(ValueError):
    """A training folder cannot be started or resumed."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int = 16
    patch_size: int = 64
    lr: float = 2e-4
    val_every: int = 500
    seed: int = 0
    device: str = "auto"
    amp: str = (
        "auto"  # mixed precision on GPU (see nas.device.Precision); the CPU trains in float32
    )

    def validate(self) -> None:
        for name in ("steps", "batch_size", "patch_size", "val_every"):
            if getattr(self, name) < 1:
                raise TrainError(
                    f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}"
                )
        if self.patch_size % 8:
            raise TrainError(f"patch size must be a multiple of 8, got {self.patch_size}")
        if not 0 < self.lr < float("inf"):
            raise TrainError(f"learning rate must be positive and finite, got {self.lr}")


def train_network(
    spec: ArchSpec,
    sampler: PatchSampler,
    val_blocks: BlockSet,
    out_dir: Path,
    config: TrainConfig,
    init_state: dict | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict:
    """Train ``spec`` (from ``init_state`` weights if given) and return the summary of the best
    weights. With ``resume``, continue from ``out_dir/last.pt``; a finished run returns at once."""
    config.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)  # before the model is built: the seed sets the initial weights
    model = build_model(spec).to(device)
    if init_state is not None:
        load_state_dict_strict(model, init_state, source="initial weights")
    optimizer, schedule = make_optimizer(model, config.lr, config.steps)
    precision = Precision.for_device(device, config.amp)
    generator = torch.Generator().manual_seed(config.seed)
    state = {"step": 0, "best_psnr": -math.inf, "history": []}
    last = out_dir / "last.pt"
    if last.exists() and not resume:
        raise TrainError(
            f"{out_dir} already holds a training run; pass --resume to continue it or choose another --out"
        )
    if resume and last.exists():
        state = _load_checkpoint(last, model, optimizer, schedule, generator, config, spec)
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out_dir / "tensorboard"), purge_step=state["step"] or None)
    bar = tqdm(
        total=config.steps,
        initial=state["step"],
        desc=f"train {out_dir.name}",
        unit="step",
        disable=not progress,
    )
    started, losses = time.perf_counter(), []
    model.train()
    while state["step"] < config.steps:
        noisy, targets = sampler.sample(config.batch_size, config.patch_size, generator)
        losses.append(
            train_step(
                model,
                optimizer,
                schedule,
                to_device(noisy, device),
                to_device(targets, device),
                precision,
            )
        )
        state["step"] += 1
        bar.update(1)
        if state["step"] % config.val_every == 0 or state["step"] == config.steps:
            _validate(
                model,
                val_blocks,
                state,
                losses,
                schedule,
                writer,
                time.perf_counter() - started,
                spec,
                out_dir,
            )
            losses = []
            _save_checkpoint(last, model, optimizer, schedule, generator, state, spec, config)
            model.train()
    bar.close()
    writer.close()
    save_model_file(out_dir / "final.pt", spec, model.state_dict(), step=state["step"])
    return {
        "best_psnr": state["best_psnr"],
        "steps": state["step"],
        "best": str(out_dir / "best.pt"),
        "final": str(out_dir / "final.pt"),
    }


def _validate(model, blocks, state, losses, schedule, writer, seconds, spec, out_dir) -> None:
    summary = summarize(evaluate_blocks(model, blocks, with_ssim=False))
    row = {
        "step": state["step"],
        "train_l1": sum(losses) / max(len(losses), 1),
        "val_psnr": summary["psnr"],
        "lr": schedule.get_last_lr()[0],
        "seconds": seconds,
    }
    state["history"].append(row)
    writer.add_scalar("train/l1", row["train_l1"], row["step"])
    writer.add_scalar("val/psnr", row["val_psnr"], row["step"])
    atomic_write_text(out_dir / "metrics.csv", pd.DataFrame(state["history"]).to_csv(index=False))
    if summary["psnr"] > state["best_psnr"]:
        state["best_psnr"] = summary["psnr"]
        save_model_file(
            out_dir / "best.pt",
            spec,
            model.state_dict(),
            step=state["step"],
            val_psnr=summary["psnr"],
        )
    log.info(
        "step %d  train L1 %.5f  val PSNR %.3f dB", row["step"], row["train_l1"], row["val_psnr"]
    )


def _save_checkpoint(path, model, optimizer, schedule, generator, state, spec, config) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "spec": spec.to_dict(),
                "config": asdict(config),
                "state_dict": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "generator": generator.get_state(),
                **state,
            },
            tmp,
        )


def _load_checkpoint(path, model, optimizer, schedule, generator, config, spec) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
            raise TrainError(f"cannot resume from {path}: not a checkpoint of nas.train")
        if saved["config"]["steps"] != config.steps or saved["config"]["seed"] != config.seed:
            raise TrainError(
                f"{path}: was started with steps={saved['config']['steps']} seed={saved['config']['seed']}; "
                "resume with the same settings"
            )
        if saved.get("spec") != spec.to_dict():
            raise TrainError(
                f"cannot resume from {path}: it trains another architecture; resume with its --arch, "
                "or choose another --out"
            )
        load_state_dict_strict(model, saved["state_dict"], source=str(path))
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        torch.set_rng_state(saved["torch_rng"])
        generator.set_state(saved["generator"])
        return {
            "step": int(saved["step"]),
            "best_psnr": float(saved["best_psnr"]),
            "history": list(saved["history"]),
        }
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
    ) as err:
        # a junk, truncated or foreign file, or a state (optimizer, RNG) that is not this run's
        raise TrainError(
            f"cannot resume from {path}: not a checkpoint of this run ({type(err).__name__}: {err})"
        ) from None
