"""A transfer study: do the proxy's winners stay ahead when trained longer and wider?

A few architectures (named ones such as ``mwresnet``, spec files, genome keys, the best of an
evaluation database) are trained at the proxy budget (the space's, ``default``) and at dearer
fidelities, each with several seeds, the same seeds at every fidelity. The tables: each
architecture's mean validation PSNR per fidelity with a 95% t-interval over its seeds
(:func:`psnr_table`), and per fidelity Kendall's tau of the architectures' mean PSNRs against the
proxy's, with a 95% interval from resampling each architecture's seeds (:func:`rank_agreement`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau
from scipy.stats import t as student_t

from models import ArchSpec

from ..arch import ArchError, resolve_arch
from ..errors import UserError
from ..fidelity.study import FidelityError, parse_fidelity, space_at
from ..search.database import load_database
from ..search.fitness import candidate_seed
from ..search.result import Candidate, CandidateResult, Evaluation
from ..search.space import SearchSpace, SpaceError, parse_space

__all__ = [
    "TransferError",
    "Architecture",
    "TransferPlan",
    "resolve_architectures",
    "best_of_database",
    "candidates",
    "train_missing",
    "psnr_table",
    "rank_agreement",
]

PLAN = "transfer.json"


class TransferError(UserError):
    """A transfer study that cannot be planned or read back."""


@dataclass(frozen=True)
class Architecture:
    """One architecture of the study: the name it was given by and its full-width spec."""

    name: str
    spec: ArchSpec

    @property
    def key(self) -> str:
        return self.spec.key()


@dataclass(frozen=True)
class TransferPlan:
    """What a study trains: ``architectures`` at the space's budget (``default``) and at each
    of ``fidelities`` (budget changes, as ``nas.fidelity`` spells them), ``seeds`` seeds each
    (run seeds ``seed``, ``seed + 1``, ...)."""

    space: SearchSpace
    architectures: tuple[Architecture, ...]
    fidelities: tuple[str, ...]
    seeds: int
    seed: int = 0

    def __post_init__(self) -> None:
        if self.seeds < 2:
            raise TransferError(f"--seeds must be at least 2 for an interval, got {self.seeds}")
        if len(self.architectures) < 2:
            raise TransferError("a transfer study needs two architectures at least")
        if (
            not self.fidelities
            or self.fidelities[0] != "default"
            or (len(set(self.fidelities)) != len(self.fidelities))
        ):
            raise TransferError(f"fidelities {self.fidelities}: 'default' first, none twice")
        for text in self.fidelities:
            try:
                parse_fidelity(text, self.space)
            except FidelityError as err:
                raise TransferError(str(err)) from None

    def to_json(self) -> str:
        return json.dumps(
            {
                "space": self.space.to_dict(),
                "architectures": [
                    {"name": a.name, "spec": a.spec.to_dict()} for a in self.architectures
                ],
                "fidelities": list(self.fidelities),
                "seeds": self.seeds,
                "seed": self.seed,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str, source: str = PLAN) -> "TransferPlan":
        """The plan in ``text``; TransferError names what is wrong."""
        try:
            data = json.loads(text)
            return cls(
                parse_space(data["space"], source=source),
                tuple(
                    Architecture(str(a["name"]), ArchSpec.from_dict(a["spec"]))
                    for a in data["architectures"]
                ),
                tuple(str(f) for f in data["fidelities"]),
                int(data["seeds"]),
                int(data["seed"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, SpaceError) as err:
            if isinstance(err, TransferError):
                raise
            raise TransferError(f"{source}: not a transfer study ({err})") from None


def resolve_architectures(names: list[str], space: SearchSpace) -> list[Architecture]:
    """``--arch`` values (a named architecture, a spec or best.json file, a model file) as
    architectures of the space's data kind; the same spec twice is kept once."""
    found: dict[str, Architecture] = {}
    for name in names:
        try:
            spec, _ = resolve_arch(name, space.in_channels)
        except ArchError as err:
            raise TransferError(str(err)) from None
        if spec.in_channels != space.in_channels:
            raise TransferError(
                f"--arch {name}: {spec.in_channels}-channel input, the space's data has "
                f"{space.in_channels}"
            )
        found.setdefault(spec.key(), Architecture(name, spec))
    return list(found.values())


def best_of_database(path: str | Path, top: int, max_gflops: float | None) -> list[Architecture]:
    """The ``top`` best architectures of an evaluation database, by PSNR, among those of at
    most ``max_gflops`` GFLOPs; named ``db#1``, ``db#2``, ... in that order."""
    table = load_database(path)
    if max_gflops is not None:
        table = table[table["gflops"] <= max_gflops]
    best = table.sort_values("psnr", ascending=False).drop_duplicates("key").head(top)
    if len(best) < top:
        raise TransferError(f"{path}: {len(best)} architectures within the GFLOPs cap, not {top}")
    return [Architecture(f"db#{rank}", arch) for rank, arch in enumerate(best["arch"], start=1)]


def _trial_key(arch_key: str, seed_index: int) -> str:
    """The key of one training: the architecture's key and the seed's index."""
    return f"{arch_key}_s{seed_index}"


def _split_key(trial_key: str) -> tuple[str, int]:
    """(architecture key, seed index) of a :func:`_trial_key`."""
    arch_key, _, seed_index = trial_key.rpartition("_s")
    return arch_key, int(seed_index)


def candidates(plan: TransferPlan, fidelity: str) -> list[Candidate]:
    """Every training of one fidelity: each architecture with each seed (the seeds are the
    same at every fidelity, so the fidelities' results pair)."""
    budget = space_at(plan.space, parse_fidelity(fidelity, plan.space)).budget
    return [
        Candidate(
            _trial_key(arch.key, index),
            arch.spec,
            budget,
            candidate_seed(plan.seed + index, arch.key),
        )
        for index in range(plan.seeds)
        for arch in plan.architectures
    ]


def train_missing(plan: TransferPlan, done: list[Evaluation], evaluator, on_evaluation) -> None:
    """Train what ``done`` (the journal) lacks, one fidelity after another, cheapest first; each
    finished training is handed to ``on_evaluation`` (which journals it) as it ends."""
    names = {a.key: a.name for a in plan.architectures}
    for index, fidelity in enumerate(plan.fidelities):
        have = {e.key for e in done if e.fidelity == fidelity}
        todo = [c for c in candidates(plan, fidelity) if c.key not in have]
        if not todo:
            continue
        by_key = {c.key: c for c in todo}

        def tell(key: str, result: CandidateResult, fidelity=fidelity, index=index) -> None:
            if key in have or key not in by_key:  # an evaluator may report a key twice
                return
            have.add(key)
            candidate = by_key[key]
            arch, seed_index = _split_key(key)
            on_evaluation(
                Evaluation(
                    generation=index,
                    key=key,
                    genome=(),
                    spec=candidate.spec,
                    seed=candidate.seed,
                    result=result,
                    extra={"arch": names[arch], "seed_index": seed_index},
                    fidelity=fidelity,
                )
            )

        results = evaluator.evaluate(todo, index, tell)
        for c in todo:
            tell(c.key, results.get(c.key) or CandidateResult.failed("no result reported"))


def _long(plan: TransferPlan, evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per training of the plan: architecture, fidelity, seed index, PSNR (NaN if it
    failed), GFLOPs at full width."""
    keys = {a.key: a for a in plan.architectures}
    rows = []
    for e in evaluations:
        arch = keys.get(_split_key(e.key)[0])
        if arch is None or e.fidelity not in plan.fidelities:
            continue
        rows.append(
            {
                "arch": arch.name,
                "key": arch.key,
                "fidelity": e.fidelity,
                "seed_index": e.extra.get("seed_index"),
                "psnr": e.result.psnr if e.result.ok else np.nan,
                "train_seconds": e.result.train_seconds,
            }
        )
    return pd.DataFrame(
        rows, columns=["arch", "key", "fidelity", "seed_index", "psnr", "train_seconds"]
    )


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return (np.nan, np.nan)
    half = student_t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return (values.mean() - half, values.mean() + half)


def psnr_table(plan: TransferPlan, evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per architecture and fidelity: seeds trained, mean PSNR, its 95% t-interval,
    the rank among the architectures at that fidelity, median seconds per training."""
    long = _long(plan, evaluations)
    rows = []
    for (fidelity, arch), group in long.groupby(["fidelity", "arch"], sort=False):
        values = group["psnr"].to_numpy(dtype=float)
        low, high = _interval(values)
        rows.append(
            {
                "fidelity": fidelity,
                "arch": arch,
                "key": group["key"].iloc[0],
                "seeds": int(np.isfinite(values).sum()),
                "psnr_mean": np.nanmean(values) if np.isfinite(values).any() else np.nan,
                "ci95_low": low,
                "ci95_high": high,
                "seconds_median": group["train_seconds"].median(),
            }
        )
    table = pd.DataFrame(rows)
    if not len(table):
        return table
    ranks = table.groupby("fidelity")["psnr_mean"].rank(ascending=False, method="min")
    table["rank"] = ranks.astype("Int64")
    table["order"] = table["fidelity"].map({f: i for i, f in enumerate(plan.fidelities)})
    return table.sort_values(["order", "rank"]).drop(columns="order").reset_index(drop=True)


AGREEMENT_COLUMNS = [
    "fidelity",
    "architectures",
    "kendall_tau",
    "tau_ci95_low",
    "tau_ci95_high",
    "same_best",
    "best_at_proxy",
    "best_here",
]


def rank_agreement(
    plan: TransferPlan, evaluations: list[Evaluation], resamples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Per dearer fidelity (none in a study of the proxy alone): Kendall's tau between the
    architectures' mean PSNRs there and at the proxy, with a 95% interval from resampling each
    architecture's seeds (at both fidelities, independently), and whether both agree on the best
    architecture."""
    long = _long(plan, evaluations).dropna(subset=["psnr"])
    proxy = _seed_values(long, "default")
    rng, rows = np.random.default_rng(seed), []
    for fidelity in plan.fidelities[1:]:
        other = _seed_values(long, fidelity)
        archs = [a for a in proxy if a in other]
        if len(archs) < 2:
            continue
        a = np.array([proxy[name].mean() for name in archs])
        b = np.array([other[name].mean() for name in archs])
        taus = []
        for _ in range(resamples):
            a_star = [rng.choice(proxy[name], len(proxy[name])).mean() for name in archs]
            b_star = [rng.choice(other[name], len(other[name])).mean() for name in archs]
            value = kendalltau(a_star, b_star).statistic
            if np.isfinite(value):
                taus.append(value)
        low, high = np.percentile(taus, [2.5, 97.5]) if taus else (np.nan, np.nan)
        rows.append(
            {
                "fidelity": fidelity,
                "architectures": len(archs),
                "kendall_tau": kendalltau(a, b).statistic,
                "tau_ci95_low": low,
                "tau_ci95_high": high,
                "same_best": archs[int(a.argmax())] == archs[int(b.argmax())],
                "best_at_proxy": archs[int(a.argmax())],
                "best_here": archs[int(b.argmax())],
            }
        )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _seed_values(long: pd.DataFrame, fidelity: str) -> dict[str, np.ndarray]:
    rows = long[long["fidelity"] == fidelity]
    return {arch: group["psnr"].to_numpy(dtype=float) for arch, group in rows.groupby("arch")}
