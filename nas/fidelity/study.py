"""A proxy-fidelity study: the same architectures scored at several budgets, and how their
rankings agree (Kendall's tau and Spearman's rho with bootstrap intervals, top-5 overlap)."""

from __future__ import annotations

import itertools
import json
import numbers
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError
from scipy.stats import kendalltau, spearmanr

from ..plotting import new_figure, save_png
from ..search.genome import GenomeCodec
from ..search.space import Budget, SearchSpace, SpaceError, format_validation_error, parse_space

__all__ = [
    "FidelityError",
    "StudyError",
    "Fidelity",
    "Study",
    "parse_fidelity",
    "space_at",
    "spread_sample",
    "agreement",
    "cheapest_reliable",
    "fidelity_summary",
]


class FidelityError(ValueError):
    """A fidelity that is not a valid budget."""


class StudyError(ValueError):
    """A study.json that does not hold a study."""


@dataclass(frozen=True)
class Fidelity:
    """A named budget: the space's default budget with some fields changed."""

    name: str
    budget: Budget


@dataclass(frozen=True)
class Study:
    """A study's ``study.json``: the space (its budget is the default fidelity), how many
    architectures, the seed, and the fidelities by name, in the order they were added."""

    space: SearchSpace
    count: int
    seed: int
    fidelities: tuple[str, ...]

    def with_fidelities(self, added: list[str]) -> "Study":
        """This study with those of ``added`` it lacks appended (each validated first)."""
        new = [text for text in dict.fromkeys(added) if text not in self.fidelities]
        for text in new:
            parse_fidelity(text, self.space)
        return Study(self.space, self.count, self.seed, self.fidelities + tuple(new))

    def to_json(self) -> str:
        data = {"space": self.space.to_dict(), "count": self.count, "seed": self.seed}
        return json.dumps({**data, "fidelities": list(self.fidelities)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Study":
        """The study in ``text``; StudyError (or SpaceError for its space) names what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise StudyError(f"not JSON ({err})") from None
        names = {"space", "count", "seed", "fidelities"}
        if not isinstance(data, dict) or set(data) != names:
            raise StudyError(f"expected an object with exactly {', '.join(sorted(names))}")
        fidelities = data["fidelities"]
        if not (
            isinstance(fidelities, list)
            and all(isinstance(f, str) for f in fidelities)
            and all(_integer(data[k]) for k in ("count", "seed"))
        ):
            raise StudyError("a malformed count, seed or fidelity list")
        space = parse_space(data["space"], source="space")
        return cls(space, data["count"], data["seed"], tuple(fidelities))


def _integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def parse_fidelity(text: str, space: SearchSpace) -> Fidelity:
    """``steps=1200,patch_size=64`` (or ``default``) -> a Fidelity, validated as the space's
    budget."""
    default = space.budget
    if text == "default":
        return Fidelity("default", default)
    changes = {}
    for part in text.split(","):
        field, sep, value = part.partition("=")
        if not sep or not field.strip():
            raise FidelityError(
                f"--fidelity {text!r}: expected FIELD=VALUE[,FIELD=VALUE...], e.g. steps=1200"
            )
        try:
            changes[field.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise FidelityError(
                f"--fidelity {text!r}: {value!r} is not a value (a number, a word or a list)"
            ) from None
    try:
        budget = Budget.model_validate({**default.model_dump(), **changes})
    except ValidationError as err:
        raise FidelityError(format_validation_error(err, f"--fidelity {text!r}")) from None
    try:  # what only the whole space can check, e.g. data of the space's kind (raw or sRGB)
        parse_space({**space.to_dict(), "budget": budget.model_dump(mode="json")}, source="space")
    except SpaceError as err:
        raise FidelityError(f"--fidelity {text!r}: {err}") from None
    return Fidelity(text, budget)


def spread_sample(space: SearchSpace, count: int, seed: int) -> list[list[int]]:
    """``count`` distinct genomes spread over the space's cost range: many random draws, sorted
    by GFLOPs, taken at evenly spaced ranks."""
    codec, rng = GenomeCodec(space), random.Random(seed)
    pool = {}
    for _ in range(40 * count):
        genome = codec.random_genome(rng)
        pool.setdefault(codec.key(genome), genome)
    if len(pool) < count:
        raise FidelityError(f"the space holds fewer than {count} distinct architectures")
    ranked = sorted(pool.values(), key=lambda g: codec.cost(g).gflops)
    picks = np.linspace(0, len(ranked) - 1, count).round().astype(int)
    return [ranked[i] for i in picks]


def space_at(space: SearchSpace, fidelity: Fidelity) -> SearchSpace:
    """``space`` with ``fidelity``'s budget (valid: :func:`parse_fidelity` checked it)."""
    return parse_space({**space.to_dict(), "budget": fidelity.budget.model_dump(mode="json")})


def _bootstrap(a: np.ndarray, b: np.ndarray, statistic, resamples: int, rng) -> tuple[float, float]:
    values = []
    for _ in range(resamples):
        index = rng.integers(0, len(a), len(a))
        value = statistic(a[index], b[index])
        if np.isfinite(value):
            values.append(value)
    return tuple(np.percentile(values, [2.5, 97.5])) if values else (np.nan, np.nan)


def agreement(
    scores: pd.DataFrame, columns: list[str], resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """For each pair of score columns: Kendall's tau and Spearman's rho with bootstrap 95%
    intervals, and the overlap of their top 5 (rows are architectures, higher is better)."""
    rng = np.random.default_rng(seed)

    def tau(x, y):
        return kendalltau(x, y).statistic

    def rho(x, y):
        return spearmanr(x, y).statistic

    rows = []
    for first, second in itertools.combinations(columns, 2):
        both = scores[[first, second]].dropna()
        a, b = both[first].to_numpy(), both[second].to_numpy()
        top = min(5, len(both))
        overlap = len(
            set(both[first].nlargest(top).index) & set(both[second].nlargest(top).index)
        ) / max(top, 1)
        rows.append(
            {
                "a": first,
                "b": second,
                "n": len(both),
                "kendall_tau": tau(a, b),
                "tau_ci95": "%.2f..%.2f" % _bootstrap(a, b, tau, resamples, rng),
                "spearman_rho": rho(a, b),
                "rho_ci95": "%.2f..%.2f" % _bootstrap(a, b, rho, resamples, rng),
                "top5_overlap": overlap,
            }
        )
    return pd.DataFrame(rows)


def _against(pairs: pd.DataFrame, reference: str) -> dict[str, pd.Series]:
    """Each column's row of ``pairs`` with ``reference``."""
    rows = {}
    for _, row in pairs.iterrows():
        if reference in (row["a"], row["b"]) and row["a"] != row["b"]:
            rows[row["b"] if row["a"] == reference else row["a"]] = row
    return rows


def cheapest_reliable(
    pairs: pd.DataFrame,
    seconds: dict[str, float],
    reference: str,
    threshold: float = 0.75,
    max_seconds: float | None = None,
) -> tuple[str | None, bool]:
    """The cheapest fidelity whose tau against ``reference`` reaches ``threshold``; else the one
    with the highest tau. Fidelities dearer than ``max_seconds`` per evaluation are left out.
    Returns (name, whether it reached the threshold); (None, False) when none is left."""
    taus = {
        name: row["kendall_tau"]
        for name, row in _against(pairs, reference).items()
        if name in seconds and (max_seconds is None or seconds[name] <= max_seconds)
    }
    reliable = [name for name, tau in taus.items() if tau >= threshold]
    if reliable:
        return min(reliable, key=seconds.get), True
    return (max(taus, key=taus.get) if taus else None), False


def fidelity_summary(
    pairs: pd.DataFrame, seconds: dict[str, float], reference: str, baseline: str
) -> pd.DataFrame:
    """One row per fidelity, cheapest first: seconds per evaluation, cost relative to
    ``baseline`` (the default budget), and its agreement with ``reference`` (tau with its
    interval, rho, top-5 overlap)."""
    rows = _against(pairs, reference)
    table = []
    for name, secs in sorted(seconds.items(), key=lambda item: item[1]):
        row = rows.get(name)
        same = name == reference
        table.append(
            {
                "fidelity": name,
                "seconds_per_eval": secs,
                "cost_vs_default": secs / seconds[baseline],
                "tau_vs_reference": 1.0 if same else row["kendall_tau"],
                "tau_ci95": "" if same else row["tau_ci95"],
                "rho_vs_reference": 1.0 if same else row["spearman_rho"],
                "top5_overlap": 1.0 if same else row["top5_overlap"],
            }
        )
    return pd.DataFrame(table)


def scatter_matrix_png(scores: pd.DataFrame, columns: list[str], path: Path) -> None:
    side = 2.6 * len(columns)
    _, canvas = new_figure(side, side)
    with (
        warnings.catch_warnings()
    ):  # pandas clears the canvas figure to lay out its grid, and says so
        warnings.simplefilter("ignore", UserWarning)
        axes = pd.plotting.scatter_matrix(scores[columns], ax=canvas, diagonal="hist", alpha=0.7)
    for ax in axes.ravel():
        ax.xaxis.label.set_rotation(30)
        ax.yaxis.label.set_rotation(60)
        ax.yaxis.label.set_ha("right")
    fig = axes[0, 0].get_figure()
    fig.suptitle("proxy fidelities and zero-cost proxies (one point per architecture)")
    save_png(fig, path, dpi=90)
