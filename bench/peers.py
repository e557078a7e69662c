"""Optuna's samplers on the same objective and count of distinct evaluations as our schemes.

Optuna is the optional ``bench`` extra (``pip install -e .[bench]``); :func:`available` says
whether it is installed. One study per seed, direction maximize, the 13 genes as
``suggest_int`` (block index and count per group slot, width index per level). A suggestion whose
canonical key was scored already gets the cached value and is not counted; a study stops at the
wanted count of distinct architectures, or after 20 times as many trials.
"""

from __future__ import annotations

import logging
import random

from models import GROUP_NAMES
from nas.search.genome import GenomeCodec
from nas.search.result import Candidate

__all__ = ["PEERS", "available", "run_peer"]

PEERS = ("optuna-random", "optuna-tpe", "optuna-gp")


def available() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def _sampler(name: str, seed: int):
    import optuna

    if name == "optuna-tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "optuna-gp":
        return optuna.samplers.GPSampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def _genome(trial, space) -> list[int]:
    genome = []
    for name in GROUP_NAMES:
        genome.append(trial.suggest_int(f"{name}.block", 0, len(space.blocks) - 1))
        genome.append(
            trial.suggest_int(
                f"{name}.count", space.blocks_per_group.min, space.blocks_per_group.max
            )
        )
    for level, choices in enumerate(space.widths.choices(), start=1):
        genome.append(trial.suggest_int(f"level{level}.width", 0, len(choices) - 1))
    return genome


def run_peer(space, landscape, name: str, seed: int, evaluations: int) -> list[tuple]:
    """(psnr, gflops, seconds) of the first ``evaluations`` distinct architectures the sampler
    ``name`` suggests, in order."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    codec = GenomeCodec(space)
    study = optuna.create_study(direction="maximize", sampler=_sampler(name, seed))
    seen, order, rng = {}, [], random.Random(seed)  # repair draws only under constraints
    for _ in range(20 * evaluations):
        if len(order) >= evaluations:
            break
        trial = study.ask()
        genome = codec.repair(_genome(trial, space), rng)
        key = codec.key(genome)
        if key not in seen:
            candidate = Candidate(key, codec.decode(genome), space.budget, 0)
            result = landscape.score([candidate])[key]
            seen[key] = (result.psnr, result.gflops, result.train_seconds)
            order.append(key)
        study.tell(trial, seen[key][0])
    return [seen[k] for k in order]
