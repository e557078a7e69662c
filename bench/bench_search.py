"""Selection schemes compared over many seeds on a surrogate of the evaluation database.

    python bench/bench_search.py [--db bench/data/evaldb_rcab_dense.csv.gz] [--seeds 50]
        [--population N] [--tournament-size N] [--mutation-rate F] [--crossover-rate F]
        [--offspring N] [--schemes random tournament ...] [--png bench/results/search_schemes.png]

The evolution settings default to the space's own (``evolution:`` in ``--space``).

Fits the surrogate (scikit-learn gradient boosting, ``nas.search.surrogate``) on the database and
prints its cross-validated Kendall tau. Then the real engine runs each scheme (random,
tournament, aging; nsga2 with psnr and gflops), asked for candidates and told the surrogate's
prediction of each, for every seed, until it has made 256 distinct evaluations. It prints, at
the space's default number of trainings (24 for rcab_dense.yaml), 64 and 256 evaluations:

* the median and inter-quartile range of the regret: best possible minus best found (dB); the
  best possible is the surrogate's optimum, found by hill-climbing over one-gene changes from the
  best of the database and of a 20,000-genome random sample. It does not depend on what the
  schemes found, so rows of different runs compare (it once included every evaluated genome,
  which shifted the regret of a run by up to 0.04 dB with the settings under test);
* the median number of evaluations each scheme needs to match random sampling's (median) best
  of 64;
* for nsga2 and random, the median hypervolume of the (psnr, gflops) front;

and draws the best-so-far curves (median and quartiles) to a PNG.
"""

import argparse
import math
import random
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
from deap import base, tools
from deap.benchmarks.tools import hypervolume

from nas.plotting import median_band, new_figure, save_png
from nas.search.database import load_database, split_diverged
from nas.search.engine import SearchEngine
from nas.search.genome import GenomeCodec
from nas.search.space import load_space
from nas.search.surrogate import Surrogate, SurrogateEvaluator

LARGER_BUDGETS = (64, 256)  # after the space's own default number of trainings
TARGET = 64  # the goal: random sampling's best of 64
SCHEMES = ("random", "tournament", "aging", "nsga2")


def run_scheme(space, surrogate, selection, seed, overrides, evaluations):
    """The (psnr, gflops) of the first ``evaluations`` distinct candidates, in evaluation order,
    of ``selection`` driven by ask/tell with the surrogate as the trainer."""
    objectives = ["psnr", "gflops"] if selection == "nsga2" else ["psnr"]
    configured = space.with_overrides(
        top={"objectives": objectives}, evolution=dict(overrides, selection=selection)
    )
    engine = SearchEngine(configured, seed, max_generations=math.inf)
    scorer = SurrogateEvaluator(surrogate)
    while len(engine.evaluations) < evaluations:
        for key, result in scorer.score(engine.ask()).items():
            engine.tell(key, result)
    evaluated = list(engine.evaluations.values())[:evaluations]
    return [(e.result.psnr, e.result.gflops) for e in evaluated]


def default_trainings(space) -> int:
    """Trainings the space's own search makes: the initial population plus every generation's children."""
    evolution = space.evolution
    return evolution.population + evolution.generations * evolution.children()


def best_so_far(evaluations):
    return np.maximum.accumulate([p for p, _ in evaluations])


class _Fitness(base.Fitness):
    weights = (1.0, -1.0)  # psnr up, gflops down


class _Point:
    def __init__(self, psnr, gflops):
        self.fitness = _Fitness((psnr, gflops))


def front_hypervolume(evaluations, reference):
    """Hypervolume of the non-dominated (psnr, gflops) set; DEAP minimises (-psnr, gflops)."""
    points = [_Point(p, g) for p, g in evaluations]
    front = tools.sortNondominated(points, len(points), first_front_only=True)[0]
    return hypervolume(front, reference)


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


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="bench/data/evaldb_rcab_dense.csv.gz")
    parser.add_argument("--space", default="rcab_dense.yaml")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--population", type=int, help="default: the space's")
    parser.add_argument("--tournament-size", type=int, help="default: the space's")
    parser.add_argument("--mutation-rate", type=float, help="default: the space's")
    parser.add_argument("--crossover-rate", type=float, help="default: the space's")
    parser.add_argument("--offspring", type=int, help="default: the space's")
    parser.add_argument(
        "--schemes",
        nargs="+",
        choices=SCHEMES,
        default=list(SCHEMES),
        help="schemes to run (random is always run: it sets the target)",
    )
    parser.add_argument("--png", default="bench/results/search_schemes.png", help="'' for no plot")
    args = parser.parse_args()
    space = load_space(args.space)
    table, diverged = split_diverged(load_database(args.db))
    specs, psnr = list(table["arch"]), table["psnr"].to_numpy()
    surrogate = Surrogate(space.blocks)
    cv = surrogate.cross_validate(specs, psnr)
    surrogate.fit(specs, psnr)
    print(
        f"database: {len(table)} architectures ({len(diverged)} diverged left out); surrogate held-out "
        f"Kendall tau {cv.kendall_tau:.3f}, MAE {cv.mae_db:.3f} dB ({cv.folds}-fold)"
    )
    overrides = {
        "population": args.population,
        "tournament_size": args.tournament_size,
        "mutation_rate": args.mutation_rate,
        "crossover_rate": args.crossover_rate,
        "offspring": args.offspring,
    }
    budgets = tuple(sorted({default_trainings(space), *LARGER_BUDGETS}))
    runs = {}
    for selection in [s for s in SCHEMES if s == "random" or s in args.schemes]:
        runs[selection] = [
            run_scheme(space, surrogate, selection, seed, overrides, budgets[-1])
            for seed in range(args.seeds)
        ]
    best_possible = surrogate_optimum(space, surrogate, table)
    found = max(p for seeds in runs.values() for run in seeds for p, _ in run)
    print(
        f"best possible (surrogate optimum): {best_possible:.3f} dB; best any search found: {found:.3f} dB"
    )
    report(runs, best_possible, table, budgets)
    if args.png:
        plot(runs, best_possible, Path(args.png))


def report(runs, best_possible, table, budgets):
    curves = {name: [best_so_far(run) for run in seeds] for name, seeds in runs.items()}
    target = statistics.median(c[TARGET - 1] for c in curves["random"])
    rows = []
    for name, scheme_curves in curves.items():
        row = {"scheme": name}
        for n in budgets:
            regret = [best_possible - c[min(n, len(c)) - 1] for c in scheme_curves]
            q1, median, q3 = np.percentile(regret, [25, 50, 75])
            row[f"regret@{n} median"], row[f"regret@{n} IQR"] = median, f"{q1:.3f}-{q3:.3f}"
        needed = [
            int(np.argmax(c >= target)) + 1 if c[-1] >= target else np.nan for c in scheme_curves
        ]
        row[f"evals to random's best of {TARGET} (median)"] = float(np.nanmedian(needed))
        rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    reference = (-(table["psnr"].min() - 0.5), table["gflops"].max() * 1.1)
    for name in [n for n in ("random", "nsga2") if n in runs]:
        for n in LARGER_BUDGETS:
            volumes = [front_hypervolume(run[:n], reference) for run in runs[name]]
            print(
                f"hypervolume (psnr, gflops) {name:8s} @{n}: median {statistics.median(volumes):.1f}"
            )


def plot(runs, best_possible, path):
    fig, ax = new_figure(7, 4.5)
    for name, seeds in runs.items():
        curves = np.array([best_so_far(run) for run in seeds])
        x = np.arange(1, curves.shape[1] + 1)
        median_band(ax, x, curves, name)
    ax.axhline(best_possible, color="k", ls=":", label="best possible (surrogate)")
    ax.set(
        xlabel="evaluations",
        ylabel="best proxy PSNR so far (dB, surrogate)",
        xscale="log",
        title="selection schemes on the surrogate: median and quartiles over seeds",
    )
    ax.legend()
    save_png(fig, path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
