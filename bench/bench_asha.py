"""ASHA replayed on the evaluation database's learning curves, against full training.

    python bench/bench_asha.py [--db bench/data/evaldb_rcab_dense.csv.gz] [--orders 200]
        [--reduction-factor 3] [--png bench/results/asha_replay.png]

Each replay takes the database's architectures in a random order (a random-sampling search) and
trains them one after another. "Full" trains every one to the end. "ASHA" follows the
asynchronous successive-halving rule of Ray Tune's ASHAScheduler on the recorded curves: at each
rung an architecture goes on only if its PSNR there is in the top 1/eta of what that rung has
recorded so far, else it stops and its remaining steps are saved. Compute is counted in training
steps. Prints, over the orders, the median best fully trained PSNR at several compute budgets for
both, and the median compute each needs to reach full training's best of 32 architectures;
draws best-so-far against compute to a PNG.
"""

import argparse
from pathlib import Path

import numpy as np

from nas.plotting import median_band, new_figure, save_png
from nas.search.database import load_database


def replay(curves: list[list[tuple[int, float]]], order: np.ndarray, eta: int | None):
    """(compute spent, best fully trained PSNR) after each architecture of ``order``."""
    recorded: dict[int, list[float]] = {}
    spent, best, trace = 0, -np.inf, []
    for index in order:
        curve = curves[index]
        final_step = curve[-1][0]
        for step, psnr in curve:
            spent_here = step
            if eta is None or step == final_step:
                continue
            seen = recorded.setdefault(step, [])
            cutoff = np.percentile(seen, (1 - 1 / eta) * 100) if seen else None
            seen.append(psnr)
            if cutoff is not None and psnr < cutoff:
                break
        else:
            spent_here, best = final_step, max(best, curve[-1][1])
        spent += spent_here
        trace.append((spent, best))
    return trace


def best_at(trace, budget):
    reached = [best for spent, best in trace if spent <= budget]
    return reached[-1] if reached else -np.inf


def compute_to_reach(trace, target):
    for spent, best in trace:
        if best >= target:
            return spent
    return np.nan


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="bench/data/evaldb_rcab_dense.csv.gz")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--png", default="bench/results/asha_replay.png")
    args = parser.parse_args()
    table = load_database(args.db)
    curves = [c for c in table["curve"] if len(c) > 1]
    steps = curves[0][-1][0]
    print(
        f"{len(curves)} learning curves, rungs at steps {[s for s, _ in curves[0]]}; "
        f"eta = {args.reduction_factor}"
    )
    rng = np.random.default_rng(0)
    full, asha = [], []
    for _ in range(args.orders):
        order = rng.permutation(len(curves))
        full.append(replay(curves, order, None))
        asha.append(replay(curves, order, args.reduction_factor))
    for n in (8, 16, 32, len(curves)):
        budget = n * steps
        print(
            f"compute of {n:3d} full trainings: median best  full "
            f"{np.median([best_at(t, budget) for t in full]):.3f} dB"
            f"   ASHA {np.median([best_at(t, budget) for t in asha]):.3f} dB"
        )
    n = min(32, len(curves))
    targets = [t[n - 1][1] for t in full]
    need_full = [compute_to_reach(t, target) for t, target in zip(full, targets)]
    need_asha = [compute_to_reach(t, target) for t, target in zip(asha, targets)]
    ratio = np.array(need_asha) / np.array(need_full)
    print(
        f"compute to reach full training's best of {n}: "
        f"full {np.nanmedian(need_full) / steps:.1f} trainings, "
        f"ASHA {np.nanmedian(need_asha) / steps:.1f} (median ratio {np.nanmedian(ratio):.2f}; "
        "ASHA never reached it "
        f"in {np.isnan(need_asha).mean() * 100:.0f}% of orders)"
    )
    plot(full, asha, steps, Path(args.png))


def plot(full, asha, steps, path):
    grid = np.linspace(steps, max(t[-1][0] for t in full), 200)
    fig, ax = new_figure(7, 4.5)
    for name, traces in (("full training", full), ("ASHA", asha)):
        values = np.array([[best_at(t, g) for g in grid] for t in traces])
        values[~np.isfinite(values)] = np.nan
        median_band(ax, grid / steps, values, name)
    ax.set(
        xlabel="compute (full trainings' worth of steps)",
        ylabel="best fully trained PSNR (dB)",
        title="ASHA replayed on recorded learning curves (median, quartiles)",
    )
    ax.legend()
    save_png(fig, path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
