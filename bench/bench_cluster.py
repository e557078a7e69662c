"""Generational and asynchronous evolution on a simulated cluster, in simulated wall-clock time.

    python bench/bench_cluster.py [--seeds 50] [--slots 8 64 256] [--schemes tournament aging]
        [--db bench/data/evaldb_rcab_dense.csv.gz] [--workers N]
        [--csv bench/results/cluster.csv] [--png bench/results/cluster.png]

The real engine and schemes run on ``nas.search.simulated.SimulatedCluster``: N slots on a
virtual clock, each candidate's training time the database's measured ``train_seconds`` (a cost
model fitted on them, the surrogate's regressor, for genomes not in it) and its PSNR the
surrogate's (as in bench_search.py). The population is the number of slots; generational mode is
``run_generations`` (a generation starts on every slot, longest first, and waits for its last
training), asynchronous mode ``run_asynchronous`` with ``evolution.asynchronous: true``. Each run
makes ``--trainings-per-slot`` x slots trainings (at least 256). Printed per scheme, mode and
slot count, medians over seeds:

* the slots' utilization (busy slot-time over slots x the run's span);
* the regret (surrogate optimum minus best found, dB) after 10, 20 and 40 simulated minutes;
* the simulated time to reach random sampling's (median) best of 64 evaluations, and how many
  seeds reach it; and, per scheme and slot count, asynchronous's over generational's time.

Writes one row per run to the CSV, and the best-so-far curves against simulated time to the PNG.
"""

import argparse
import math
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from bench_search import run_scheme, surrogate_optimum

from models import composed_cost
from nas.plotting import median_band, new_figure, save_png
from nas.search.asynchronous import run_asynchronous
from nas.search.database import load_database, split_diverged
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.result import CandidateResult
from nas.search.simulated import DurationModel, SimulatedCluster
from nas.search.space import load_space
from nas.search.surrogate import Surrogate
from nas.search.timeline import utilization

TARGET = 64  # random sampling's best of 64 evaluations
REGRET_MINUTES = (10, 20, 40)
MIN_TRAININGS = 256


class World:
    """The simulated trainings: surrogate PSNR and measured (or modelled) seconds, memoised per
    genome key (a genome recurs across runs and seeds)."""

    def __init__(self, space, table) -> None:
        specs = list(table["arch"])
        self.psnr = Surrogate(space.blocks).fit(specs, table["psnr"].to_numpy())
        self.seconds = Surrogate(space.blocks).fit(specs, table["train_seconds"].to_numpy())
        self.measured = dict(zip(table["key"], table["train_seconds"]))
        self.scored: dict[str, CandidateResult] = {}

    def score(self, candidates):
        for c in candidates:
            if c.key not in self.scored:
                cost = composed_cost(c.spec)
                psnr = float(self.psnr.predict([c.spec])[0])
                self.scored[c.key] = CandidateResult(
                    "ok", psnr, 0.0, cost.params, cost.gflops, steps=c.budget.steps
                )
        return {c.key: self.scored[c.key] for c in candidates}

    def durations(self) -> DurationModel:
        return DurationModel(self.measured, lambda c: float(self.seconds.predict([c.spec])[0]))


_WORLD = {}


def _world(space, db):
    if "world" not in _WORLD:
        table, _ = split_diverged(load_database(db))
        _WORLD["world"] = World(space, table)
    return _WORLD["world"]


def one_run(space_name, db, selection, asynchronous, slots, seed, trainings):
    """One search on the simulated cluster: its (end time, psnr) per training, utilization."""
    space = load_space(space_name)
    world = _world(space, db)
    generations = math.ceil((trainings - slots) / _children(selection, slots))
    configured = space.with_overrides(
        evolution={
            "population": slots,
            "generations": generations,
            "selection": selection,
            "asynchronous": asynchronous,
        }
    )
    engine = SearchEngine(configured, seed)
    cluster = SimulatedCluster(slots, world.durations(), world.score)
    if asynchronous:
        run_asynchronous(engine, cluster)
    else:
        run_generations(engine, cluster)
    told = list(engine.evaluations.values())
    ends = [(e.result.ended, e.result.psnr) for e in told]
    return {
        "scheme": selection,
        "mode": "asynchronous" if asynchronous else "generational",
        "slots": slots,
        "seed": seed,
        "trainings": len(told),
        "end_s": cluster.now,
        "utilization": utilization(told, slots),
        "curve": sorted(ends),
    }


def _children(selection, slots):
    return max(1, slots // 4) if selection == "aging" else slots


def best_by(curve, seconds):
    done = [p for t, p in curve if t <= seconds]
    return max(done) if done else -math.inf


def time_to(curve, target):
    best = -math.inf
    for t, p in curve:
        best = max(best, p)
        if best >= target:
            return t
    return math.nan


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="bench/data/evaldb_rcab_dense.csv.gz")
    parser.add_argument("--space", default="rcab_dense.yaml")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--slots", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--schemes", nargs="+", default=["tournament", "aging"])
    parser.add_argument("--trainings-per-slot", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--csv", default="bench/results/cluster.csv")
    parser.add_argument("--png", default="bench/results/cluster.png", help="'' for no plot")
    args = parser.parse_args()
    space = load_space(args.space)
    world = _world(space, args.db)
    table, _ = split_diverged(load_database(args.db))
    best_possible = surrogate_optimum(space, world.psnr, table)
    random_runs = [
        run_scheme(space, world.psnr, "random", s, {}, TARGET) for s in range(args.seeds)
    ]
    target = statistics.median(max(p for p, _ in run) for run in random_runs)
    print(
        f"surrogate optimum {best_possible:.3f} dB; random's best of {TARGET} (median over "
        f"{args.seeds} seeds) {target:.3f} dB"
    )
    jobs = [
        (
            args.space,
            args.db,
            scheme,
            mode,
            slots,
            seed,
            max(MIN_TRAININGS, args.trainings_per_slot * slots),
        )
        for slots in args.slots
        for scheme in args.schemes
        for mode in (False, True)
        for seed in range(args.seeds)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(one_run, *zip(*jobs), chunksize=4))
    rows = []
    for run in runs:
        row = {k: v for k, v in run.items() if k != "curve"}
        for minutes in REGRET_MINUTES:
            row[f"regret@{minutes}min"] = best_possible - best_by(run["curve"], minutes * 60)
        row["time_to_target_s"] = time_to(run["curve"], target)
        rows.append(row)
    frame = pd.DataFrame(rows)
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.csv, index=False)
    report(frame)
    print(f"wrote {args.csv}")
    if args.png:
        plot(runs, best_possible, Path(args.png))


def report(frame):
    groups = frame.groupby(["slots", "scheme", "mode"], sort=False)
    summary = groups.agg(
        trainings=("trainings", "median"),
        utilization=("utilization", "median"),
        **{f"regret@{m}min": (f"regret@{m}min", "median") for m in REGRET_MINUTES},
        time_to_target_s=("time_to_target_s", "median"),
        reached=("time_to_target_s", lambda t: f"{t.notna().sum()}/{len(t)}"),
    ).reset_index()
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    medians = summary.set_index(["slots", "scheme", "mode"])["time_to_target_s"]
    for slots, scheme in summary[["slots", "scheme"]].drop_duplicates().itertuples(index=False):
        ratio = medians[slots, scheme, "asynchronous"] / medians[slots, scheme, "generational"]
        print(f"{slots:>4} slots, {scheme}: asynchronous / generational time to target {ratio:.2f}")


def plot(runs, best_possible, path):
    slot_counts = sorted({r["slots"] for r in runs})
    fig, axes = new_figure(5 * len(slot_counts), 4, ncols=len(slot_counts))
    for ax, slots in zip(np.atleast_1d(axes), slot_counts):
        mine = [r for r in runs if r["slots"] == slots]
        horizon = statistics.median(r["end_s"] for r in mine)
        grid = np.linspace(0, horizon, 200)
        for scheme, mode in sorted({(r["scheme"], r["mode"]) for r in mine}):
            curves = [
                [best_by(r["curve"], t) for t in grid]
                for r in mine
                if (r["scheme"], r["mode"]) == (scheme, mode)
            ]
            curves = np.where(np.isinf(curves), np.nan, curves)
            median_band(ax, grid / 60, curves, f"{scheme}, {mode}")
        ax.axhline(best_possible, color="k", ls=":", label="surrogate optimum")
        ax.set(xlabel="simulated minutes", ylabel="best PSNR so far (dB)", title=f"{slots} slots")
        ax.legend(fontsize="small")
    save_png(fig, path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
