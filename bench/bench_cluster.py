"""Generational and asynchronous evolution on a simulated cluster, in simulated wall-clock time.

    python bench/bench_cluster.py [--seeds 50] [--slots 8 64 256] [--schemes tournament aging]
        [--trainings-per-slot 8] [--target-evals 64 256] [--workers N]
        [--db bench/data/evaldb_rcab_dense.csv.gz] [--csv bench/results/cluster.csv]
        [--png bench/results/cluster.png]

The real engine and schemes run on ``nas.search.simulated.SimulatedCluster``: N slots on a
virtual clock, each candidate's training time the database's measured ``train_seconds`` (a cost
model fitted on them, the surrogate's regressor, for genomes not in it) and its PSNR the
surrogate's (as in bench_search.py). The population is the number of slots; generational mode is
``run_generations`` (a generation starts on every slot, longest first, and waits for its last
training), asynchronous mode ``run_asynchronous`` with ``evolution.asynchronous: true``. Each run
makes ``--trainings-per-slot`` x slots trainings (at least 256).

Resumable: each finished run is appended to ``--csv`` at once (its best-so-far curve as a JSON
column, ``bench/cluster_runs.py``); a restart skips every (scheme, mode, slots, seed, trainings)
already there. The tables are then printed from every run in the CSV, medians over seeds, per
slot count, trainings, scheme and mode:

* the slots' utilization over the whole run (busy slot-time over slots x the span from the first
  start to the last end, the final drain included) and until the last launch (the same up to the
  moment the run's last training starts, the drain left out);
* the regret (surrogate optimum minus best found, dB) after 10, 20 and 40 simulated minutes;
* for each N of ``--target-evals``, the simulated time to reach random sampling's (median over
  ``--seeds`` seeds) best of N evaluations, a seed that never reaches it counted as never, and
  how many seeds reach it; and, per slot count, scheme and N, asynchronous's over generational's
  median time, the median per-seed ratio and the paired seeds where asynchronous mode is
  faster, the same and slower.

Draws the best-so-far curves against simulated time to ``--png``.
"""

import argparse
import math
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from bench_search import run_scheme
from cluster_runs import MODES, RunStore, StoreError, one_run, world_of
from landscapes import surrogate_optimum

from nas.plotting import median_band, new_figure, save_png
from nas.search.database import load_database, split_diverged

REGRET_MINUTES = (10, 20, 40)
MIN_TRAININGS = 256


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="bench/data/evaldb_rcab_dense.csv.gz")
    parser.add_argument("--space", default="rcab_dense.yaml")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--slots", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--schemes", nargs="+", default=["tournament", "aging"])
    parser.add_argument("--trainings-per-slot", type=int, default=8)
    parser.add_argument(
        "--target-evals",
        type=int,
        nargs="+",
        default=[64],
        help="targets: random sampling's median best of N evaluations, for each N",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--csv", default="bench/results/cluster.csv")
    parser.add_argument("--png", default="bench/results/cluster.png", help="'' for no plot")
    args = parser.parse_args(argv)
    for name in ("seeds", "trainings_per_slot", "workers"):
        if getattr(args, name) < 1:
            parser.exit(2, f"error: --{name.replace('_', '-')}: at least 1\n")
    for name in ("slots", "target_evals"):
        if min(getattr(args, name)) < 1:
            parser.exit(2, f"error: --{name.replace('_', '-')}: every value at least 1\n")
    return parser, args


def main(argv=None):
    parser, args = parse_args(argv)
    store = RunStore(Path(args.csv))
    try:
        done = {record.key for record in store.load()}
    except StoreError as error:
        parser.exit(2, f"error: {error}\n")
    space, world = world_of(args.space, args.db)
    table, _ = split_diverged(load_database(args.db))
    best_possible = surrogate_optimum(space, world.psnr, table)
    targets = random_targets(space, world, args.seeds, args.target_evals)
    print(f"surrogate optimum {best_possible:.3f} dB")
    for n, target in targets.items():
        print(f"random's best of {n} (median over {args.seeds} seeds) {target:.3f} dB")
    jobs = [
        (scheme, mode, slots, seed, max(MIN_TRAININGS, args.trainings_per_slot * slots))
        for slots in args.slots
        for seed in range(args.seeds)
        for scheme in args.schemes
        for mode in MODES
    ]
    todo = [job for job in jobs if job not in done]
    print(f"{len(jobs) - len(todo)} of {len(jobs)} runs already in {args.csv}", flush=True)
    run_all(args, todo, store)
    records = store.load()
    frame = summarise(records, best_possible, targets)
    report(frame, targets)
    print(f"wrote {args.csv}")
    if args.png:
        plot(records, best_possible, targets, Path(args.png))


def random_targets(space, world, seeds, counts):
    """Random sampling's median (over seeds) best of N evaluations, for each N."""
    runs = [run_scheme(space, world, "random", s, {}, max(counts))[0] for s in range(seeds)]
    return {
        n: statistics.median(max(p for p, _, _ in run[:n]) for run in runs)
        for n in sorted(set(counts))
    }


def run_all(args, todo, store):
    """Run each job, appending its record to the store as it finishes."""
    started = time.perf_counter()

    def finished(count, record):
        store.append(record)
        elapsed = time.perf_counter() - started
        print(
            f"[{count}/{len(todo)}, {elapsed / 60:.1f} min] {record.scheme} {record.mode} "
            f"{record.slots} slots seed {record.seed}: {record.told} trainings",
            flush=True,
        )

    if args.workers == 1:
        for count, job in enumerate(todo, 1):
            finished(count, one_run(args.space, args.db, *job))
        return
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(one_run, args.space, args.db, *job) for job in todo]
        for count, future in enumerate(as_completed(futures), 1):
            finished(count, future.result())


def target_column(n):
    return f"time_to_best_of_{n}_s"


def summarise(records, best_possible, targets):
    """One row per run: its utilizations, regrets and time to each target."""
    rows = []
    for r in records:
        row = {
            "slots": r.slots,
            "trainings": r.trainings,
            "scheme": r.scheme,
            "mode": r.mode,
            "seed": r.seed,
            "told": r.told,
            "utilization": r.utilization,
            "utilization_to_last_start": r.utilization_to_last_start,
        }
        for minutes in REGRET_MINUTES:
            row[f"regret@{minutes}min"] = best_possible - r.best_by(minutes * 60)
        for n, target in targets.items():
            row[target_column(n)] = r.time_to(target)
        rows.append(row)
    return pd.DataFrame(rows)


def report(frame, targets):
    keys = ["slots", "trainings", "scheme", "mode"]
    aggregations = {
        "seeds": ("seed", "count"),
        "told": ("told", "median"),
        "util_whole_run": ("utilization", "median"),
        "util_to_last_start": ("utilization_to_last_start", "median"),
        **{f"regret@{m}min": (f"regret@{m}min", "median") for m in REGRET_MINUTES},
    }
    for n in targets:
        aggregations[f"t_best_of_{n}_s"] = (target_column(n), "median")
        aggregations[f"reached_{n}"] = (target_column(n), lambda t: f"{np.isfinite(t).sum()}")
    summary = frame.groupby(keys, sort=True).agg(**aggregations).reset_index()
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        "util_whole_run: first start to last end (final drain included); util_to_last_start: "
        "first start to the last training's launch (drain left out); t_best_of_N_s: median "
        "simulated seconds to random's best of N (a seed that never reaches it counts as never)"
    )
    ratios(frame, targets)


def ratios(frame, targets):
    """Per slot count, trainings, scheme and target: asynchronous's median time over
    generational's, the median per-seed ratio (seeds where both reach it), and in how many
    paired seeds asynchronous mode is faster, the same (at slots = population: within the
    initial population, which both modes train alike) and slower."""
    for (slots, trainings, scheme), runs in frame.groupby(["slots", "trainings", "scheme"]):
        if set(runs["mode"]) != set(MODES):
            continue
        for n in targets:
            paired = runs.pivot(index="seed", columns="mode", values=target_column(n)).dropna()
            times = {mode: runs.loc[runs["mode"] == mode, target_column(n)] for mode in MODES}
            asyn, gen = (float(times[mode].median()) for mode in ("asynchronous", "generational"))
            faster, same, slower = _paired(paired["asynchronous"], paired["generational"])
            finite = paired[np.isfinite(paired).all(axis=1)]
            per_seed = (finite["asynchronous"] / finite["generational"]).median()
            print(
                f"{slots:>4} slots, {trainings} trainings, {scheme}: asynchronous / generational "
                f"time to random's best of {n}: {_ratio(asyn, gen)}; median per-seed ratio "
                f"{per_seed:.2f}; asynchronous faster in {faster}, the same in {same}, slower in "
                f"{slower} of {len(paired)} paired seeds"
            )


def _paired(first, second):
    """Seeds where ``first`` is lower, equal (and finite) and higher than ``second``."""
    same = int(((first == second) & np.isfinite(first)).sum())
    return int((first < second).sum()), same, int((first > second).sum())


def _ratio(numerator, denominator):
    if math.isinf(numerator) or math.isinf(denominator):
        return f"{numerator:.0f} s / {denominator:.0f} s"
    return f"{numerator / denominator:.2f} ({numerator:.0f} s / {denominator:.0f} s)"


def plot(records, best_possible, targets, path):
    slot_counts = sorted({r.slots for r in records})
    fig, axes = new_figure(5 * len(slot_counts), 4, ncols=len(slot_counts))
    for ax, slots in zip(np.atleast_1d(axes), slot_counts):
        mine = [r for r in records if r.slots == slots]
        grid = np.linspace(0, statistics.median(r.end_s for r in mine), 200)
        for scheme, mode in sorted({(r.scheme, r.mode) for r in mine}):
            runs = [r for r in mine if (r.scheme, r.mode) == (scheme, mode)]
            curves = np.array([[r.best_by(t) for t in grid] for r in runs])
            with warnings.catch_warnings():  # before the first end every curve is NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                median_band(
                    ax, grid / 60, np.where(np.isinf(curves), np.nan, curves), f"{scheme}, {mode}"
                )
        ax.axhline(best_possible, color="k", ls=":", label="surrogate optimum")
        for n, target in targets.items():
            ax.axhline(target, color="grey", ls="--", lw=0.8)
            ax.annotate(
                f"random's best of {n}", (grid[-1] / 60, target), fontsize="x-small", ha="right"
            )
        ax.set(xlabel="simulated minutes", ylabel="best PSNR so far (dB)", title=f"{slots} slots")
        ax.legend(fontsize="small")
    save_png(fig, path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
