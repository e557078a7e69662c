"""Guided evolution against tournament on the real proxy: the main job with each scheme at
several run seeds, every winner rescored with three training seeds.

    python bench/bench_guided_real.py [--seeds 0 1 2] [--space rcab_dense.yaml] [--offspring 2]
        [--out runs/bench_guided_real] [--csv bench/results/guided_real.csv]

Per run seed, the main job (the space's own count of trainings, ``evolution.trainings``) runs
twice on a local Ray: with ``tournament`` (the default before guided), and with ``guided`` in
steps of ``--offspring`` children (2 is the space's default), the count of trainings the same.
Each winner is then trained at the proxy with the training seeds of indices 0, 1 and 2
(``python -m nas.transfer``; index 0 is the evaluation database's seed rule), so every winner
is scored by its own search seed and two others. Prints per run the winner, its
search PSNR, its seed-0 PSNR and the mean of the three, then each scheme's medians, and writes a
CSV row per run.

Resumable: each search's folder (``OUT/<scheme>-s<seed>``) and the rescoring study
(``OUT/rescore``) continue where they stopped; run the same command again.
"""

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd

from nas.search.best import BestRecord
from nas.search.checkpoint import CHECKPOINT, read_journal
from nas.search.run import resume, search
from nas.search.space import load_space

SCHEMES = ("tournament", "guided")
RESCORE = "rescore"
GOAL_DB = 43.85  # the database's top 5%, at seed 0's scoring


def scheme_space(space_name: str, scheme: str, offspring: int):
    """The space as the scheme runs it: tournament as written, guided in smaller steps with the
    same count of trainings."""
    space = load_space(space_name)
    if scheme == "tournament":
        return space.with_overrides(evolution={"selection": "tournament"})
    guided = space.with_overrides(evolution={"selection": "guided", "offspring": offspring})
    if guided.evolution.trainings != space.evolution.trainings:
        raise SystemExit(
            f"error: {space.evolution.trainings} trainings are not population + k x {offspring}"
        )
    return guided


def run_search(out: Path, space, seed: int) -> Path:
    """One search, started or continued; its best.json."""
    if (out / CHECKPOINT).exists():
        resume(out)
    else:
        search(space, out=out, seed=seed)
    return out / "best.json"


def rescore(out: Path, space_name: str, winners: list[Path]) -> None:
    """The winners at the proxy with three training seeds (a transfer study at the proxy only)."""
    import ray

    ray.shutdown()  # the study starts its own local Ray; the searches' would hold the CPUs
    study = out / RESCORE
    command = [sys.executable, "-m", "nas.transfer"]
    if (study / "transfer.json").exists():
        command += ["--resume", str(study)]
    else:
        command += ["--space", space_name, "--seeds", "3", "--out", str(study)]
        for path in winners:
            command += ["--arch", str(path)]
    code = subprocess.run(command).returncode
    if code:
        raise SystemExit(code)  # nas.transfer has printed its one-line error


def summary(out: Path, runs: dict[tuple[str, int], Path]) -> pd.DataFrame:
    scores: dict[str, dict[int, float]] = {}
    for evaluation in read_journal(out / RESCORE):
        if evaluation.result.ok:  # a failed training has no score to average
            by_seed = scores.setdefault(evaluation.spec.key(), {})
            by_seed[evaluation.extra["seed_index"]] = evaluation.result.psnr
    rows = []
    for (scheme, seed), path in runs.items():
        best = BestRecord.from_json(path.read_text())
        winner = best.spec.key()
        by_seed = scores.get(winner, {})
        rows.append(
            {
                "scheme": scheme,
                "run_seed": seed,
                "winner": winner,
                "gflops": best.metrics.gflops,
                "search_psnr": best.metrics.psnr,
                "seed0_psnr": by_seed.get(0, float("nan")),
                "mean3_psnr": statistics.fmean(by_seed.values()) if by_seed else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--space", default="rcab_dense.yaml")
    parser.add_argument("--offspring", type=int, default=2, help="guided's children per step")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_guided_real"))
    parser.add_argument("--csv", default="", help="write the table here")
    args = parser.parse_args()
    runs = {}
    for seed in args.seeds:
        for scheme in SCHEMES:
            space = scheme_space(args.space, scheme, args.offspring)
            runs[scheme, seed] = run_search(args.out / f"{scheme}-s{seed}", space, seed)
    rescore(args.out, args.space, list(dict.fromkeys(runs.values())))
    table = summary(args.out, runs)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    medians = table.groupby("scheme")[["search_psnr", "seed0_psnr", "mean3_psnr"]].median()
    print("\nmedian over run seeds\n" + medians.to_string(float_format=lambda v: f"{v:.3f}"))
    for scheme, row in medians.iterrows():
        met = "met" if row["seed0_psnr"] >= GOAL_DB else "not met"
        print(f"{scheme}: goal (median seed-0 PSNR >= {GOAL_DB} dB) {met}")
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
