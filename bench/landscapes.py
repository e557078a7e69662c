"""Objectives for comparing searches without training: each scores a genome's PSNR and the
seconds its training would take, and knows its best possible PSNR.

* ``surrogate``: the gradient-boosted surrogate (``nas.search.surrogate``) fitted on an
  evaluation database's non-diverged rows; the seconds are a second surrogate fitted on the log of
  the database's ``train_seconds``; the optimum is found by hill-climbing (the database's best and
  20,000 random genomes as starts).
* ``synthetic``: a known optimum (12 blocks of a target type in every group, target widths, as
  in ``tests/nas/search/test_schemes.py``) plus a smooth bonus for width; seconds grow with the
  architecture's GFLOPs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import numpy as np

from models import GROUP_NAMES, composed_cost
from nas.search.database import load_database, split_diverged
from nas.search.genome import GenomeCodec
from nas.search.result import Candidate, CandidateResult
from nas.search.surrogate import Surrogate

__all__ = ["Landscape", "surrogate_landscape", "synthetic_landscape"]


@dataclass
class Landscape:
    """``psnr(specs)`` and ``seconds(specs)`` arrays; ``optimum`` the best possible PSNR."""

    name: str
    psnr: Callable
    seconds: Callable
    optimum: float
    note: str = ""
    table: object = None  # the database, where there is one

    def score(self, candidates: list[Candidate]) -> dict[str, CandidateResult]:
        """What the engine is told for each candidate (by key)."""
        if not candidates:
            return {}
        specs = [c.spec for c in candidates]
        results = {}
        for c, psnr, secs in zip(candidates, self.psnr(specs), self.seconds(specs)):
            cost = composed_cost(c.spec)
            results[c.key] = CandidateResult(
                "ok", float(psnr), 0.0, cost.params, cost.gflops, 1, train_seconds=float(secs)
            )
        return results


def surrogate_landscape(name: str, space, db_path: str) -> Landscape:
    table, diverged = split_diverged(load_database(db_path))
    specs, psnr = list(table["arch"]), table["psnr"].to_numpy()
    surrogate = Surrogate(space.blocks)
    cv = surrogate.cross_validate(specs, psnr)
    surrogate.fit(specs, psnr)
    timing = Surrogate(space.blocks).fit(specs, np.log(table["train_seconds"].to_numpy()))
    note = (
        f"{db_path}: {len(table)} architectures ({len(diverged)} diverged left out); surrogate "
        f"held-out Kendall tau {cv.kendall_tau:.3f}, MAE {cv.mae_db:.3f} dB ({cv.folds}-fold)"
    )
    optimum = surrogate_optimum(space, surrogate, table)
    return Landscape(
        name, surrogate.predict, lambda s: np.exp(timing.predict(s)), optimum, note, table
    )


def surrogate_optimum(space, surrogate, table, samples: int = 20000, starts: int = 10) -> float:
    """The surrogate's best PSNR, the same whatever the schemes found: hill-climbing over one-gene
    changes from the best of the database and of ``samples`` random genomes (fixed seed)."""
    codec, rng = GenomeCodec(space), random.Random(12345)
    genomes = [list(g) for g in table["genome"]] + [
        codec.random_genome(rng) for _ in range(samples)
    ]
    scores = surrogate.predict([codec.decode(g) for g in genomes])
    best = float(scores.max())
    for index in np.argsort(scores)[::-1][:starts]:
        genome, score = genomes[index], float(scores[index])
        while True:
            around = codec.neighbours(genome)
            around_scores = surrogate.predict([codec.decode(g) for g in around])
            if around_scores.max() <= score:
                break
            genome, score = around[int(around_scores.argmax())], float(around_scores.max())
        best = max(best, score)
    return best


TARGET_BLOCKS, TARGET_WIDTHS = ("rcab", "dense", "rcab", "residual", "rcab"), (96, 128, 128)


def _synthetic_psnr(spec) -> float:
    score = 40.0
    for group, block in zip(spec.groups, TARGET_BLOCKS):
        score -= abs(group.num_blocks - 12) / 4 + (group.block != block)
    return score - sum(w != t for w, t in zip(spec.widths, TARGET_WIDTHS))


def synthetic_landscape() -> Landscape:
    """Optimum 40 dB at ``TARGET_BLOCKS`` x 12 and ``TARGET_WIDTHS``; a training takes 20 s plus
    0.25 s per GFLOP (about the database's range)."""
    assert len(TARGET_BLOCKS) == len(GROUP_NAMES)
    return Landscape(
        "synthetic",
        lambda specs: np.array([_synthetic_psnr(s) for s in specs]),
        lambda specs: np.array([20.0 + 0.25 * composed_cost(s).gflops for s in specs]),
        40.0,
        "synthetic: 40 dB minus per group |count - 12| / 4 and 1 per wrong block type and width",
    )
