"""The distillation repeated over several seeds: one full pipeline folder per seed
(``OUT/seed_<S>/``, each resumable on its own), the per-seed rows in ``OUT/ablation.csv`` and
their summary across seeds in ``OUT/ablation_summary.csv``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..atomic import atomic_write_text
from ..data import BlockSet, PatchSampler
from .pipeline import run_distillation
from .stages import DistillPlan
from .summary import summarize_seeds

__all__ = ["run_seeds", "seed_folder"]


def seed_folder(out_dir: Path, seed: int) -> Path:
    """The pipeline folder of one seed."""
    return Path(out_dir) / f"seed_{seed}"


def run_seeds(
    plan: DistillPlan,
    seeds: Sequence[int],
    sampler: PatchSampler,
    unlabeled_for: Callable[[int], np.ndarray],
    val: BlockSet,
    out_dir: Path,
    resume: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the pipeline once per seed (``plan.with_seed(seed)`` on ``unlabeled_for(seed)``) and
    return (and save) the per-seed ablation rows and their summary. The validation set is the same
    for every seed, so rows pair up by seed. Finished stages of any seed are skipped."""
    out_dir = Path(out_dir)
    tables = [
        run_distillation(
            plan.with_seed(seed),
            sampler,
            unlabeled_for(seed),
            val,
            seed_folder(out_dir, seed),
            resume=resume,
        )
        for seed in seeds
    ]
    table = pd.concat(tables, ignore_index=True)
    summary = summarize_seeds(table)
    atomic_write_text(out_dir / "ablation.csv", table.to_csv(index=False))
    atomic_write_text(out_dir / "ablation_summary.csv", summary.to_csv(index=False))
    return table, summary
