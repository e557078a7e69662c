"""Selection schemes compared over many seeds on a surrogate of the evaluation database.

    python bench/bench_search.py [--db bench/data/evaldb_rcab_dense.csv.gz] [--seeds 50]
        [--population N] [--tournament-size N] [--mutation-rate F] [--crossover-rate F]
        [--offspring N] [--schemes random tournament ...] [--png bench/results/search_schemes.png]
        [--landscape surrogate|synthetic] [--max-evals 256] [--peers optuna-tpe optuna-gp ...]
        [--peer-seeds N] [--first-seed 0] [--csv FILE] [--per-seed FILE]

The evolution settings default to the space's own (``evolution:`` in ``--space``).

Fits the surrogate (scikit-learn gradient boosting, ``nas.search.surrogate``) on the database and
prints its cross-validated Kendall tau. Then the real engine runs each scheme (random,
tournament, aging; nsga2 with psnr and gflops), asked for candidates and told the surrogate's
prediction of each, for every seed, until it has made 256 distinct evaluations. It prints, at
the space's default number of trainings (24 for rcab_dense.yaml), 64 and 256 evaluations:

* the median, inter-quartile range and bootstrap 95% interval of the median of the regret: best
  possible minus best found (dB); the best possible is the surrogate's optimum, found by
  hill-climbing over one-gene changes from the best of the database and of a 20,000-genome random
  sample. It does not depend on what the schemes found, so rows of different runs compare (it
  once included every evaluated genome, which shifted the regret of a run by up to 0.04 dB with
  the settings under test);
* the median number of evaluations each scheme needs to match random sampling's (median) best
  of 64, with its bootstrap 95% interval;
* for nsga2 and random, the median hypervolume of the (psnr, gflops) front;

and draws the best-so-far curves (median and quartiles) to a PNG.

``--landscape synthetic`` replaces the surrogate with a landscape of known optimum
(``bench/landscapes.py``). ``--peers`` runs Optuna's samplers (``bench/peers.py``, the optional
``bench`` extra; skipped with a message when it is not installed) on the same objective and
count of distinct evaluations. Every evaluation also costs the training seconds the landscape
predicts (the database's ``train_seconds``, through a second surrogate), and the regret is
also printed at equal summed seconds: those that random sampling's first 24 and 64
evaluations take (median over seeds). ``--csv`` writes every row printed, ``--per-seed`` each
scheme's values per seed (a run is deterministic in its seed, and runs of one population start
from the same genomes, so seeds pair across runs: ``bench/compare_seeds.py`` tests the
difference). ``--first-seed`` starts the
seeds (and the peers' seeds) elsewhere than 0, for a held-out set of seeds.
"""

import argparse
import math
import statistics
from pathlib import Path

import sys
import time
from typing import get_args

import numpy as np
import pandas as pd
import scipy.stats
from deap import base, tools
from deap.benchmarks.tools import hypervolume

sys.path.insert(0, str(Path(__file__).resolve().parent))
from landscapes import surrogate_landscape, synthetic_landscape  # noqa: E402
from peers import PEERS, available, run_peer  # noqa: E402

from nas.errors import UserError, first_line  # noqa: E402
from nas.plotting import median_band, new_figure, save_png  # noqa: E402
from nas.search.engine import SearchEngine  # noqa: E402
from nas.search.space import EvolutionSettings, load_space  # noqa: E402

LARGER_BUDGETS = (64, 256)  # after the space's own default number of trainings
TARGET = 64  # the goal: random sampling's best of 64
SCHEMES = ("random", "tournament", "aging", "nsga2", "guided")
DEFAULT_SCHEMES = ("random", "tournament", "aging", "nsga2")
EQUAL_COST = (24, 64)  # regret at the seconds random's first 24 and 64 evaluations take
EVALS = f"evals to random's best of {TARGET}"


def run_scheme(space, landscape, selection, seed, overrides, evaluations):
    """The (psnr, gflops, seconds) of the first ``evaluations`` distinct candidates, in
    evaluation order, of ``selection`` driven by ask/tell with the landscape as the trainer; and
    the slowest proposal step (seconds)."""
    objectives = ["psnr", "gflops"] if selection == "nsga2" else ["psnr"]
    configured = space.with_overrides(
        top={"objectives": objectives}, evolution=dict(overrides, selection=selection)
    )
    engine = SearchEngine(configured, seed, max_generations=math.inf)
    slowest = 0.0
    while len(engine.evaluations) < evaluations:
        started = time.perf_counter()
        candidates = engine.ask()
        slowest = max(slowest, time.perf_counter() - started)
        for key, result in landscape.score(candidates).items():
            engine.tell(key, result)
    evaluated = list(engine.evaluations.values())[:evaluations]
    return [(e.result.psnr, e.result.gflops, e.result.train_seconds) for e in evaluated], slowest


def best_so_far(evaluations):
    return np.maximum.accumulate([e[0] for e in evaluations])


def best_within(evaluations, seconds: float) -> float:
    """The best PSNR among the evaluations made before their summed seconds pass ``seconds``."""
    spent = np.cumsum([e[2] for e in evaluations])
    made = int(np.searchsorted(spent, seconds, side="right"))
    return max((e[0] for e in evaluations[:made]), default=float("nan"))


class _Fitness(base.Fitness):
    weights = (1.0, -1.0)  # psnr up, gflops down


class _Point:
    def __init__(self, psnr, gflops):
        self.fitness = _Fitness((psnr, gflops))


def front_hypervolume(evaluations, reference):
    """Hypervolume of the non-dominated (psnr, gflops) set; DEAP minimises (-psnr, gflops)."""
    points = [_Point(e[0], e[1]) for e in evaluations]
    front = tools.sortNondominated(points, len(points), first_front_only=True)[0]
    return hypervolume(front, reference)


def add_landscape_arguments(parser: argparse.ArgumentParser) -> None:
    """The database, space, landscape and seeds every search benchmark takes."""
    parser.add_argument("--db", default="bench/data/evaldb_rcab_dense.csv.gz")
    parser.add_argument("--space", default="rcab_dense.yaml")
    parser.add_argument("--landscape", choices=("surrogate", "synthetic"), default="surrogate")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run from here (held-out seed sets)"
    )


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """Where ``write_tables`` writes the summary and the per-seed values."""
    parser.add_argument("--csv", default="", help="write the table here")
    parser.add_argument(
        "--per-seed", default="", help="write each scheme's per-seed values here (paired tests)"
    )


def check_search_arguments(parser: argparse.ArgumentParser, args) -> None:
    """A budget below the target, or no seeds, is a one-line error before any run."""
    if args.max_evals < TARGET or args.seeds < 1 or args.first_seed < 0:
        parser.exit(
            2,
            f"error: need --max-evals of at least {TARGET} (the target is random "
            f"sampling's best of {TARGET}), --seeds of at least 1 and --first-seed of at least 0\n",
        )


def load_landscape(parser: argparse.ArgumentParser, args):
    """The space and the landscape ``add_landscape_arguments``' flags name, the landscape's note
    printed; a missing or malformed space or database is a one-line error."""
    try:
        space = load_space(args.space)
        if args.landscape == "synthetic":
            landscape = synthetic_landscape()
        else:
            landscape = surrogate_landscape("surrogate", space, args.db)
    except UserError as err:
        parser.exit(2, f"error: {first_line(err)}\n")
    print(landscape.note)
    return space, landscape


def _choices(field: str) -> tuple[str, ...]:
    """The values the space's schema allows for an ``evolution`` field."""
    return get_args(EvolutionSettings.model_fields[field].annotation)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_landscape_arguments(parser)
    parser.add_argument("--max-evals", type=int, default=256, help="distinct evaluations per run")
    parser.add_argument("--population", type=int, help="default: the space's")
    parser.add_argument("--tournament-size", type=int, help="default: the space's")
    parser.add_argument("--mutation-rate", type=float, help="default: the space's")
    parser.add_argument("--crossover-rate", type=float, help="default: the space's")
    parser.add_argument("--offspring", type=int, help="default: the space's")
    parser.add_argument("--guided-pool", type=int, help="default: the space's")
    parser.add_argument(
        "--guided-model", choices=_choices("guided_model"), help="default: the space's"
    )
    parser.add_argument("--acquisition", choices=_choices("acquisition"))
    parser.add_argument(
        "--schemes",
        nargs="+",
        choices=SCHEMES,
        default=list(DEFAULT_SCHEMES),
        help="schemes to run (random is always run: it sets the target)",
    )
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=[], help="Optuna samplers")
    parser.add_argument("--peer-seeds", type=int, help="seeds for the peers (default: --seeds)")
    parser.add_argument("--png", default="bench/results/search_schemes.png", help="'' for no plot")
    add_table_arguments(parser)
    args = parser.parse_args()
    check_search_arguments(parser, args)
    first = args.first_seed
    space, landscape = load_landscape(parser, args)
    overrides = {
        "population": args.population,
        "tournament_size": args.tournament_size,
        "mutation_rate": args.mutation_rate,
        "crossover_rate": args.crossover_rate,
        "offspring": args.offspring,
        "guided_pool": args.guided_pool,
        "guided_model": args.guided_model,
        "acquisition": args.acquisition,
    }
    budgets = tuple(
        n for n in sorted({space.evolution.trainings, *LARGER_BUDGETS}) if n <= args.max_evals
    )
    runs, slowest = {}, {}
    for selection in [s for s in SCHEMES if s == "random" or s in args.schemes]:
        started = time.perf_counter()
        done = [
            run_scheme(space, landscape, selection, seed, overrides, args.max_evals)
            for seed in range(first, first + args.seeds)
        ]
        runs[selection] = [run for run, _ in done]
        slowest[selection] = max(step for _, step in done)
        print(f"  {selection}: {time.perf_counter() - started:.0f} s", flush=True)
    if args.peers and not available():
        print("Optuna is not installed (pip install -e .[bench]): the peers are skipped")
    elif args.peers:
        for name in args.peers:
            started = time.perf_counter()
            runs[name] = [
                run_peer(space, landscape, name, seed, args.max_evals)
                for seed in range(first, first + (args.peer_seeds or args.seeds))
            ]
            print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)
    found = max(e[0] for seeds in runs.values() for run in seeds for e in run)
    print(
        f"best possible ({args.landscape} optimum): {landscape.optimum:.3f} dB; "
        f"best any search found: {found:.3f} dB"
    )
    table, seeds = report(runs, landscape, budgets, first)
    for name, seconds in slowest.items():
        print(f"slowest proposal step {name:10s}: {seconds:.2f} s")
    write_tables(args, table, seeds)
    if args.png:
        plot(runs, landscape.optimum, Path(args.png))


def report(runs, landscape, budgets, first_seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Print and return the summary (one row per scheme: medians over seeds, their inter-quartile
    ranges and bootstrap 95% intervals) and the per-seed values it summarises."""
    target, seconds = random_targets(runs)
    seeds = per_seed_table(runs, landscape, budgets, target, seconds, first_seed)
    rows = []
    for name in runs:
        mine = seeds[seeds["scheme"] == name]
        row = {"scheme": name, "seeds": len(mine)}
        for n in budgets:
            regret = mine[f"regret@{n}"].to_numpy()
            q1, median, q3 = np.percentile(regret, [25, 50, 75])
            row[f"regret@{n} median"], row[f"regret@{n} IQR"] = median, f"{q1:.3f}-{q3:.3f}"
            row[f"regret@{n} median 95% CI"] = median_interval(regret)
        for n in seconds:
            row[f"regret@{n} random's seconds"] = float(
                mine[f"regret@{n} random's seconds"].median()
            )
        needed = mine[EVALS].to_numpy()
        row[f"{EVALS} (median)"] = float(np.nanmedian(needed))
        row[f"{EVALS} median 95% CI"] = median_interval(needed, digits=1)
        row["never"] = int(np.isnan(needed).sum())
        rows.append(row)
    table = pd.DataFrame(rows)
    print(f"random's best of {TARGET} (median): {target:.3f} dB")
    for n, budget in seconds.items():
        print(f"random's first {n} evaluations take {budget:.0f} s (median)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if landscape.table is not None:
        reference = (-(landscape.table["psnr"].min() - 0.5), landscape.table["gflops"].max() * 1.1)
        for name in [n for n in ("random", "nsga2") if n in runs]:
            for n in [b for b in LARGER_BUDGETS if b in budgets]:
                volumes = [front_hypervolume(run[:n], reference) for run in runs[name]]
                print(
                    f"hypervolume (psnr, gflops) {name:8s} @{n}: "
                    f"median {statistics.median(volumes):.1f}"
                )
    return table, seeds


def random_targets(runs) -> tuple[float, dict[int, float]]:
    """Random sampling's median best of ``TARGET`` evaluations, and the median seconds its first
    ``EQUAL_COST`` evaluations take."""
    target = statistics.median(best_so_far(run)[TARGET - 1] for run in runs["random"])
    seconds = {
        n: statistics.median(sum(e[2] for e in run[:n]) for run in runs["random"])
        for n in EQUAL_COST
        if all(len(run) >= n for run in runs["random"])
    }
    return target, seconds


def per_seed_table(runs, landscape, budgets, target, seconds, first_seed) -> pd.DataFrame:
    """One row per scheme and seed: the regret at each budget and at random's seconds, and the
    evaluations to ``target`` (NaN where a run never reaches it)."""
    rows = []
    for name, scheme_runs in runs.items():
        for index, run in enumerate(scheme_runs):
            curve = best_so_far(run)
            row = {"scheme": name, "seed": first_seed + index}
            for n in budgets:
                row[f"regret@{n}"] = landscape.optimum - curve[min(n, len(curve)) - 1]
            for n, budget in seconds.items():
                row[f"regret@{n} random's seconds"] = landscape.optimum - best_within(run, budget)
            reached = curve >= target
            row[EVALS] = int(np.argmax(reached)) + 1 if reached.any() else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def median_interval(values, digits: int = 3) -> str:
    """The bootstrap 95% interval of the median over seeds (NaN values left out), as 'low-high';
    '-' when fewer than two values are there."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) < 2:
        return "-"
    if np.ptp(values) == 0:  # the bootstrap has nothing to resample
        return f"{values[0]:.{digits}f}-{values[0]:.{digits}f}"
    found = scipy.stats.bootstrap(
        (values,),
        np.median,
        confidence_level=0.95,
        n_resamples=2000,
        method="percentile",
        random_state=np.random.default_rng(0),
    )
    low, high = found.confidence_interval
    return f"{low:.{digits}f}-{high:.{digits}f}"


def write_tables(args, table: pd.DataFrame, seeds: pd.DataFrame) -> None:
    """The summary to ``--csv`` and the per-seed values to ``--per-seed``, where given."""
    for path, frame in ((args.csv, table), (args.per_seed, seeds)):
        if path:
            frame.to_csv(path, index=False, float_format="%.4f")
            print(f"wrote {path}")


def plot(runs, best_possible, path):
    fig, ax = new_figure(7, 4.5)
    for name, seeds in runs.items():
        curves = np.array([best_so_far(run) for run in seeds])
        x = np.arange(1, curves.shape[1] + 1)
        median_band(ax, x, curves, name)
    ax.axhline(best_possible, color="k", ls=":", label="best possible")
    ax.set(
        xlabel="evaluations",
        ylabel="best proxy PSNR so far (dB)",
        xscale="log",
        title="searches on one landscape: median and quartiles over seeds",
    )
    ax.legend()
    save_png(fig, path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
