"""Learning-rate warm-up against divergence: architectures of a fidelity study trained at one of
its fidelities without and with ``budget.warmup_steps``, side by side, same seeds.

    python bench/bench_warmup.py --study runs/fidelity \\
        --fidelity width_multiplier=0.25,patch_size=64 --warmup 30 --count 3

The architectures are the study's diverged ones at that fidelity (PSNR below --diverged-db) first,
then the rest in the order the study's journal holds them. Each is trained in-process on one
thread with the study's seed, so the two arms differ only in the warm-up. Prints PSNR, final
training loss and seconds per arm; each row reaches the CSV as soon as it is trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import pandas as pd

from nas.fidelity.study import parse_fidelity
from nas.search.checkpoint import read_journal
from nas.search.fitness import evaluate_candidate
from nas.search.result import Candidate
from nas.search.space import Budget, parse_space


def study_candidates(
    study: Path, fidelity_text: str, count: int, diverged_db: float
) -> list[tuple[Candidate, float]]:
    """(candidate at the fidelity, its PSNR in the study) for ``count`` architectures, diverged
    first."""
    space = parse_space(json.loads((study / "study.json").read_text())["space"])
    fidelity = parse_fidelity(fidelity_text, space)
    done = [e for e in read_journal(study) if e.fidelity == fidelity.name]
    if not done:
        sys.exit(f"error: {study} has no trainings at fidelity {fidelity.name!r}")
    done.sort(
        key=lambda e: e.result.psnr >= diverged_db
    )  # stable: diverged first, then study order
    return [
        (Candidate(e.key, e.spec, fidelity.budget, e.seed), e.result.psnr) for e in done[:count]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=Path("runs/fidelity"))
    parser.add_argument("--fidelity", default="width_multiplier=0.25,patch_size=64")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up steps of the second arm")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument(
        "--diverged-db", type=float, default=30.0, help="a study PSNR below this counts as diverged"
    )
    parser.add_argument("--csv", type=Path, default=Path("bench/results/warmup.csv"))
    args = parser.parse_args()
    if args.warmup < 1:
        parser.error("--warmup must be at least 1 (the other arm has none)")
    rows = []
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    candidates = study_candidates(args.study, args.fidelity, args.count, args.diverged_db)
    if args.warmup >= candidates[0][0].budget.steps:
        parser.error(
            f"--warmup must be below the fidelity's steps ({candidates[0][0].budget.steps})"
        )
    for candidate, study_psnr in candidates:
        for warmup in (0, args.warmup):
            budget = Budget.model_validate(
                {**candidate.budget.model_dump(), "warmup_steps": warmup}
            )
            result = evaluate_candidate(
                dataclasses.replace(candidate, budget=budget), threads=1, device="cpu"
            )
            rows.append(
                {
                    "key": candidate.key,
                    "warmup_steps": warmup,
                    "status": result.status,
                    "psnr": result.psnr,
                    "final_loss": result.final_loss,
                    "seconds": result.train_seconds,
                    "study_psnr": study_psnr,
                }
            )
            loss = "none (non-finite)" if result.final_loss is None else f"{result.final_loss:.3g}"
            print(
                f"{candidate.key:36s} warmup {warmup:4d}: {result.status} {result.psnr:7.3f} dB, "
                "final loss "
                f"{loss}, {result.train_seconds:.0f} s (study: {study_psnr:.3f} dB)",
                flush=True,
            )
            pd.DataFrame(rows).to_csv(args.csv, index=False)
    table = pd.DataFrame(rows)
    wide = table.pivot(index="key", columns="warmup_steps", values="psnr")
    print(wide.to_string(float_format="%.3f"))
    print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
