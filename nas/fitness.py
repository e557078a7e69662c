"""Fitness of one candidate: train it from scratch on the proxy budget, score it on fixed blocks.

Takes and returns plain data only (spec dict, budget dict, seed -> record dict), so it runs the
same in-process and inside a Ray worker where DEAP's creator classes do not exist.
"""
from __future__ import annotations

import hashlib
import logging
import time
import traceback

import torch

from models import ArchSpec, build_model, composed_cost

from .data import training_sampler, validation_set
from .evaluation import evaluate_blocks, summarize
from .training import train_steps

__all__ = ["FAILED_PSNR", "candidate_seed", "proxy_spec", "evaluate_candidate"]

log = logging.getLogger(__name__)
FAILED_PSNR = -1.0   # below any real score: outputs are clipped to [0, 1], so real PSNR >= 0 dB


def candidate_seed(run_seed: int, key: str) -> int:
    """A seed from the run seed and the genome key, stable across processes, resumes and caches."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def proxy_spec(spec: ArchSpec, width_multiplier: float) -> ArchSpec:
    """The spec trained during search: widths scaled and rounded to multiples of 4 (at least 4)."""
    widths = tuple(max(4, int(round(w * width_multiplier / 4)) * 4) for w in spec.widths)
    return ArchSpec(widths=widths, groups=spec.groups, in_channels=spec.in_channels, activation=spec.activation,
                    name=spec.name)


def evaluate_candidate(spec: dict, budget: dict, seed: int, threads: int | None = None,
                       tensorboard_dir: str | None = None) -> dict:
    """Train and score one candidate. Never raises: failures return ``status='failed'`` with the
    worst PSNR and the error, so the search goes on."""
    if threads:
        torch.set_num_threads(max(1, int(threads)))
    started = time.perf_counter()
    record = {"status": "ok", "error": "", "psnr": FAILED_PSNR, "ssim": 0.0, "final_loss": float("nan")}
    try:
        full = ArchSpec.from_dict(spec)
        cost = composed_cost(full)   # equals spec_cost; its pieces stay cached in a reused worker
        record.update(params=cost.params, gflops=cost.gflops)
        torch.manual_seed(seed)
        model = build_model(proxy_spec(full, budget["width_multiplier"]))
        writer = _writer(tensorboard_dir)
        losses = train_steps(model, training_sampler(budget["data"]), budget["steps"], budget["batch_size"],
                             budget["patch_size"], budget["lr"], torch.Generator().manual_seed(seed),
                             on_step=(lambda step, loss: writer.add_scalar("train/l1", loss, step)) if writer else None)
        blocks = validation_set(budget.get("val_data") or budget["data"], budget["val_blocks"],
                                budget["val_block_size"])
        summary = summarize(evaluate_blocks(model, blocks))
        if not all(map(_finite, (summary["psnr"], summary["ssim"]))):
            raise FloatingPointError(f"validation PSNR is {summary['psnr']}")
        record.update(psnr=summary["psnr"], ssim=summary["ssim"], final_loss=losses[-1])
        if writer:
            writer.add_scalar("val/psnr", summary["psnr"], budget["steps"])
            writer.close()
    except Exception as err:   # noqa: BLE001 - any failure of a candidate is a result, not a crash
        record.update(status="failed", error=f"{type(err).__name__}: {err}".splitlines()[0][:300])
        record.setdefault("params", 0)
        record.setdefault("gflops", 0.0)
        log.debug("candidate failed:\n%s", traceback.format_exc())
    record["train_seconds"] = time.perf_counter() - started
    return record


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _writer(directory: str | None):
    if not directory:
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(directory)
