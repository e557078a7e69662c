"""Two search runs compared seed by seed: is a change's difference more than the seeds' noise?

    python bench/compare_seeds.py --before FILE [FILE ...] --after FILE [FILE ...]
        [--scheme guided] [--after-scheme NAME]

Every file is a ``--per-seed`` table of ``bench_search.py`` or ``bench_guided_ceiling.py`` (one
row per scheme and seed); several files on one side are one run's seed sets (e.g. seeds 0-49 and
50-99), which must not repeat a seed. For every figure both have (the regret at each budget and at
random's seconds, the evaluations to random's best of 64) it pairs the seeds the two runs share
and prints the median of each, the median of the paired differences (after minus before) with
its bootstrap 95% interval, on how many seeds after is lower and higher than before, and the
Wilcoxon signed-rank test's two-sided p. Seeds where either
run never reached random's best of 64 are left out of that figure, and counted.
"""

import argparse
import sys

import numpy as np
import pandas as pd
import scipy.stats

from nas.errors import first_line


def load_all(paths: list[str], scheme: str) -> pd.DataFrame:
    """The per-seed rows of ``scheme`` in every one of ``paths``, indexed by seed."""
    rows = pd.concat([load(path, scheme) for path in paths])
    repeated = rows.index[rows.index.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(f"seed {repeated[0]} is in more than one of {', '.join(paths)}")
    return rows


def load(path: str, scheme: str) -> pd.DataFrame:
    """The per-seed rows of ``scheme`` in ``path``, indexed by seed."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: {first_line(err)}") from None
    if not {"scheme", "seed"} <= set(table.columns):
        raise ValueError(f"{path}: not a --per-seed table (no scheme and seed columns)")
    rows = table[table["scheme"] == scheme]
    if rows.empty:
        known = ", ".join(sorted(table["scheme"].unique()))
        raise ValueError(f"{path}: no scheme {scheme!r} (it has {known})")
    return rows.drop(columns="scheme").set_index("seed")


def compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One row per figure both tables hold: medians, the paired difference and its test."""
    seeds = before.index.intersection(after.index)
    if len(seeds) < 2:
        raise ValueError(f"the runs share {len(seeds)} seeds; a paired test needs at least 2")
    rows = []
    for figure in [c for c in before.columns if c in after.columns]:
        a, b = before.loc[seeds, figure].to_numpy(float), after.loc[seeds, figure].to_numpy(float)
        both = ~(np.isnan(a) | np.isnan(b))
        a, b = a[both], b[both]
        row = {"figure": figure, "seeds": int(both.sum()), "left out": int((~both).sum())}
        row["before median"], row["after median"] = np.median(a), np.median(b)
        row["median difference"], row["95% CI"] = _median_difference(b - a)
        row["after lower"], row["after higher"] = int(np.sum(b < a)), int(np.sum(b > a))
        row["Wilcoxon p"] = _wilcoxon(b - a)
        rows.append(row)
    return pd.DataFrame(rows)


def _median_difference(diff: np.ndarray) -> tuple[float, str]:
    if len(diff) < 2 or np.ptp(diff) == 0:
        return (float(np.median(diff)) if len(diff) else np.nan), "-"
    found = scipy.stats.bootstrap(
        (diff,),
        np.median,
        confidence_level=0.95,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(0),
    )
    low, high = found.confidence_interval
    return float(np.median(diff)), f"{low:.3f}..{high:.3f}"


def _wilcoxon(diff: np.ndarray) -> float:
    if not np.any(diff != 0):
        return 1.0
    return float(scipy.stats.wilcoxon(diff, zero_method="zsplit").pvalue)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", nargs="+", required=True, help="the reference run's tables")
    parser.add_argument("--after", nargs="+", required=True, help="the changed run's tables")
    parser.add_argument("--scheme", default="guided", help="the scheme compared (default guided)")
    parser.add_argument("--after-scheme", help="the scheme in AFTER, if not --scheme")
    args = parser.parse_args(argv)
    try:
        before = load_all(args.before, args.scheme)
        after = load_all(args.after, args.after_scheme or args.scheme)
        table = compare(before, after)
    except ValueError as err:
        parser.exit(2, f"error: {first_line(err)}\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    sys.exit(main())
