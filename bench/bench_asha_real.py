"""Plain evolution against evolution + ASHA on the real proxy, at equal wall time.

    python bench/bench_asha_real.py [--seeds 0 1 2] [--space rcab_dense.yaml]
        [--out runs/bench_asha_real] [--population N] [--generations N] [--steps N]
        [--patch-size N] [--rescore-seeds 1000 1001]
        [--csv bench/results/asha_real.csv] [--png bench/results/asha_real.png]

For each seed the real engine (local Ray Tune, real training) runs the space in two arms, one
trial at a time on 1 CPU, same population and selection. ``plain`` trains every candidate in full
for the space's generations; ``asha`` (budget.scheduler: asha, default grace and reduction factor)
runs generations until one ends past plain's wall time, and what finishes past it does not count.
Wall time: from the start of the arm's search (Ray start-up excluded) to each training's finish.

Best-so-far counts fully trained candidates only. Each best is rescored in-process at the full
proxy budget with the rescoring seeds (mean PSNR). Per seed and as medians it prints plain's wall
time, when ASHA's best-so-far architecture first rescored at least plain's rescored best, their
ratio, both rescored bests and whether the goal (the same or a better best in at most half the
wall time) is met; and, free of rescoring noise, when ASHA's search PSNR first reached plain's
final one (an architecture scores the same in both arms). Writes a CSV row per seed and a PNG.

Run folders: ``OUT/seed<S>-<arm>``. A finished arm (``arm.json``) is reused; an unfinished one is
moved aside (a wall time cannot be measured across a kill) and run again. ``OUT/rescores.json``
keeps the rescores; ``OUT/settings.json`` refuses other settings in the same OUT.
"""

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nas.atomic import atomic_write_text
from nas.plotting import median_band, new_figure, save_png
from nas.search.checkpoint import read_journal
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.evaluators import RayEvaluator, check_resources, start_ray
from nas.search.fitness import candidate_seed, evaluate_candidate
from nas.search.report import write_reports
from nas.search.result import Candidate
from nas.search.space import load_space

ARMS = ("plain", "asha")
ARM_RECORD = "arm.json"
GOAL_RATIO = 0.5


class WallTimeReached(Exception):
    """Raised from the generation callback once the ASHA arm has used plain's wall time."""


class TimedEvaluator:
    """An evaluator that passes the work on and notes when each training finished (seconds since
    ``start``)."""

    def __init__(self, inner) -> None:
        self.inner, self.start, self.events = inner, time.perf_counter(), []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _note(self, key, result) -> None:
        if key not in {e["key"] for e in self.events}:
            self.events.append(
                {
                    "key": key,
                    "finished_s": self.elapsed(),
                    "status": result.status,
                    "psnr": result.psnr,
                    "steps": result.steps,
                }
            )

    def evaluate(self, candidates, generation, on_result=None):
        def note_and_pass(key, result):
            self._note(key, result)
            if on_result:
                on_result(key, result)

        results = self.inner.evaluate(candidates, generation, note_and_pass)
        for key, result in results.items():  # anything the evaluator did not report as it went
            self._note(key, result)
        return results


def configured_space(args, seed: int, arm: str):
    base = load_space(args.space)
    generations = args.generations if args.generations is not None else base.evolution.generations
    if arm == "asha":  # more than fit in plain's wall time, where the arm is cut
        generations = 10 * (generations + 1)
    return base.with_overrides(
        top={"seed": seed},
        evolution={"population": args.population, "generations": generations},
        budget={
            "steps": args.steps,
            "patch_size": args.patch_size,
            "rungs": [],
            "scheduler": "asha" if arm == "asha" else "none",
        },
        resources={"cpus": 1, "gpus": 0, "max_concurrent": 1},
    )


def run_arm(space, folder: Path, seed: int, label: str, budget_s: float) -> dict:
    """Search until the configured generations are done or ``budget_s`` seconds are spent."""
    start_ray()
    check_resources(space.resources)
    evaluator = TimedEvaluator(RayEvaluator.for_space(folder, space.resources))
    run = SearchEngine(space, seed, folder)

    def after_generation(entry, eta):
        limit = f" of {budget_s:.0f} s" if np.isfinite(budget_s) else ""
        print(
            f"{label} gen {entry['gen']}: best {entry['best']:.3f} dB, stopped {entry['stopped']}, "
            f"{evaluator.elapsed():.0f} s{limit}",
            flush=True,
        )
        if evaluator.elapsed() >= budget_s:
            raise WallTimeReached

    evaluator.start = time.perf_counter()
    try:
        run_generations(run, evaluator, progress=after_generation)
    except WallTimeReached:
        pass
    wall_s = evaluator.elapsed()
    write_reports(run)
    return {"wall_s": wall_s, "generations_done": run.generation, "events": evaluator.events}


def arm_record(space, folder: Path, seed: int, arm: str, budget_s: float) -> dict:
    """The finished arm in ``folder``, run now if it has not finished."""
    record_path = folder / ARM_RECORD
    if record_path.is_file():
        print(f"seed {seed} {arm}: reusing {record_path}")
        return json.loads(record_path.read_text())
    if folder.exists():
        aside = next(
            p
            for n in range(1, 10**6)
            if not (p := folder.with_name(f"{folder.name}.incomplete-{n}")).exists()
        )
        print(f"seed {seed} {arm}: {folder} is unfinished; moved to {aside}, running again")
        folder.rename(aside)
    record = run_arm(space, folder, seed, f"seed {seed} {arm}", budget_s)
    atomic_write_text(record_path, json.dumps(record, indent=1))
    return record


def incumbents(events: list[dict], until_s: float = np.inf) -> list[tuple[float, str, float]]:
    """(finished_s, key, psnr) each time the best fully trained PSNR rose, up to ``until_s``."""
    steps, best = [], -np.inf
    for e in sorted(events, key=lambda e: e["finished_s"]):
        if e["status"] == "ok" and e["finished_s"] <= until_s and e["psnr"] > best:
            best = e["psnr"]
            steps.append((e["finished_s"], e["key"], e["psnr"]))
    return steps


class Rescorer:
    """Mean PSNR of an architecture trained in-process at ``budget`` with each rescoring seed; kept
    in a JSON file."""

    def __init__(self, path: Path, budget, run_seeds: list[int]) -> None:
        self.path, self.budget, self.run_seeds = path, budget, run_seeds
        self.psnrs = json.loads(path.read_text()) if path.is_file() else {}

    def __call__(self, key: str, spec) -> float:
        if key not in self.psnrs:
            results = [
                evaluate_candidate(
                    Candidate(key, spec, self.budget, candidate_seed(s, key)),
                    threads=1,
                    device="cpu",
                )
                for s in self.run_seeds
            ]
            self.psnrs[key] = [r.psnr for r in results]
            atomic_write_text(self.path, json.dumps(self.psnrs, indent=1))
            print(f"rescored {key}: {', '.join(f'{p:.3f}' for p in self.psnrs[key])} dB")
        return statistics.mean(self.psnrs[key])


def compare_seed(seed: int, out: Path, records: dict, rescore: Rescorer) -> dict:
    plain, asha = records["plain"], records["asha"]
    budget_s = plain["wall_s"]
    specs = {arm: {e.key: e.spec for e in read_journal(out / f"seed{seed}-{arm}")} for arm in ARMS}
    _, plain_key, plain_search = incumbents(plain["events"])[-1]
    target = rescore(plain_key, specs["plain"][plain_key])
    asha_steps = incumbents(asha["events"], budget_s)
    reached_s = next(
        (t for t, key, _ in asha_steps if rescore(key, specs["asha"][key]) >= target), np.inf
    )
    # The same architecture gets the same search PSNR in both arms (same candidate seed): no
    # rescoring noise.
    reached_search_s = next((t for t, _, psnr in asha_steps if psnr >= plain_search), np.inf)
    _, asha_key, asha_search = asha_steps[-1]
    counted = [e for e in asha["events"] if e["finished_s"] <= budget_s]
    return {
        "seed": seed,
        "plain_wall_s": budget_s,
        "plain_trainings": len(plain["events"]),
        "asha_generations": asha["generations_done"],
        "asha_wall_s": asha["wall_s"],
        "asha_full": sum(e["status"] == "ok" for e in counted),
        "asha_stopped": sum(e["status"] == "stopped" for e in counted),
        "plain_best_key": plain_key,
        "plain_search_psnr": plain_search,
        "plain_rescored": target,
        "asha_best_key": asha_key,
        "asha_search_psnr": asha_search,
        "asha_rescored": rescore(asha_key, specs["asha"][asha_key]),
        "asha_reached_s": reached_s,
        "ratio": reached_s / budget_s,
        "goal_met": reached_s / budget_s <= GOAL_RATIO,
        "asha_reached_search_s": reached_search_s,
        "ratio_search": reached_search_s / budget_s,
    }


def report(rows: list[dict]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    for r in rows:
        print(
            f"seed {r['seed']}: plain {r['plain_wall_s']:.0f} s "
            f"({r['plain_trainings']} trainings), best "
            f"{r['plain_best_key']} {r['plain_search_psnr']:.3f} dB in search, "
            f"{r['plain_rescored']:.3f} rescored; "
            f"asha in that time {r['asha_full']} full + {r['asha_stopped']} stopped, "
            f"best {r['asha_best_key']} "
            f"{r['asha_search_psnr']:.3f} dB in search, {r['asha_rescored']:.3f} rescored"
        )
        print(
            f"  asha reached plain's rescored best {_when(r['asha_reached_s'], r['ratio'])} "
            "-> goal "
            f"{'met' if r['goal_met'] else 'not met'}; its search best "
            f"{_when(r['asha_reached_search_s'], r['ratio_search'])}"
        )
    median = table.drop(columns=["plain_best_key", "asha_best_key"]).median()
    print(
        f"median over {len(rows)} seeds: plain {median['plain_wall_s']:.0f} s; "
        "asha reached plain's rescored best "
        f"{_when(median['asha_reached_s'], median['ratio'])} (search best "
        f"{_when(median['asha_reached_search_s'], median['ratio_search'])}); "
        f"rescored best plain {median['plain_rescored']:.3f} dB, asha "
        f"{median['asha_rescored']:.3f} dB; goal (ratio <= {GOAL_RATIO}) "
        f"{'met' if median['ratio'] <= GOAL_RATIO else 'not met'}"
        f" on the median, on {int(table['goal_met'].sum())} of {len(rows)} seeds"
    )
    return table


def _when(seconds: float, ratio: float) -> str:
    return (
        f"at {seconds:.0f} s = {ratio:.2f}x plain's wall time" if np.isfinite(seconds) else "never"
    )


def best_curve(events: list[dict], wall_s: float, fractions: np.ndarray) -> np.ndarray:
    steps = incumbents(events)
    return np.array(
        [max((p for t, _, p in steps if t <= f * wall_s), default=np.nan) for f in fractions]
    )


def plot(records: dict, path: Path) -> None:
    fractions = np.linspace(0, 1, 201)
    fig, ax = new_figure(7, 4.5)
    for arm in ARMS:
        curves = np.array(
            [
                best_curve(r[arm]["events"], r["plain"]["wall_s"], fractions)
                for r in records.values()
            ]
        )
        every_seed = ~np.isnan(curves).any(axis=0)  # a median of fewer seeds would jump about
        median_band(ax, fractions[every_seed], curves[:, every_seed], f"{arm} (median)")
        for curve in curves:
            ax.plot(fractions, curve, color=ax.lines[-1].get_color(), lw=0.6, alpha=0.6)
    ax.axvline(GOAL_RATIO, color="k", ls=":", label="goal: half of plain's wall time")
    ax.set(
        xlabel="wall time (fraction of plain's, same seed)",
        ylabel="best fully trained PSNR so far (dB, search)",
        title=f"plain evolution vs evolution + ASHA, {len(records)} seeds (thin: each seed)",
    )
    ax.legend()
    save_png(fig, path, dpi=110)
    print(f"wrote {path}")


def pin_settings(out: Path, args) -> None:
    """Refuse to mix runs of different settings in one folder."""
    settings = {
        k: getattr(args, k)
        for k in ("space", "population", "generations", "steps", "patch_size", "rescore_seeds")
    }
    path = out / "settings.json"
    if path.is_file() and json.loads(path.read_text()) != settings:
        raise SystemExit(
            f"error: {out} holds runs with other settings ({path}); choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings, indent=1))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--space", default="rcab_dense.yaml")
    parser.add_argument("--out", default="runs/bench_asha_real")
    parser.add_argument("--population", type=int)
    parser.add_argument("--generations", type=int, help="of the plain arm (default: the space's)")
    parser.add_argument("--steps", type=int, help="the full proxy budget (default: the space's)")
    parser.add_argument("--patch-size", type=int)
    parser.add_argument("--rescore-seeds", type=int, nargs="+", default=[1000, 1001])
    parser.add_argument("--csv", default="bench/results/asha_real.csv")
    parser.add_argument("--png", default="bench/results/asha_real.png")
    args = parser.parse_args()
    if set(args.rescore_seeds) & set(args.seeds):
        parser.error("--rescore-seeds must differ from the search's --seeds")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    pin_settings(out, args)
    records = {}
    for seed in args.seeds:
        plain = arm_record(
            configured_space(args, seed, "plain"), out / f"seed{seed}-plain", seed, "plain", np.inf
        )
        asha = arm_record(
            configured_space(args, seed, "asha"),
            out / f"seed{seed}-asha",
            seed,
            "asha",
            plain["wall_s"],
        )
        records[seed] = {"plain": plain, "asha": asha}
    rescore = Rescorer(
        out / "rescores.json", configured_space(args, 0, "plain").budget, args.rescore_seeds
    )
    table = report([compare_seed(seed, out, records[seed], rescore) for seed in args.seeds])
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(args.csv), table.to_csv(index=False))
    print(f"wrote {args.csv}")
    plot(records, Path(args.png))


if __name__ == "__main__":
    main()
