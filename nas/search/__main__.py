"""Evolutionary architecture search: DEAP evolves genomes, Ray Tune trains each generation.

    python -m nas.search --space rcab_dense.yaml
    python -m nas.search --resume runs/rcab_dense-20261125-101500
    python -m nas.search --space rcab_dense.yaml --generations 40 --time-budget 2h   # as far as 2 hours go

Flags override the space file for quick experiments. Outputs go to the run folder: the space as
used (space.yaml), run.json (the command), the journal evaluations.jsonl and its table
evaluations.csv, logbook.csv, best.json, checkpoint.json, fitness.png (and pareto.png),
tensorboard/ (one log per trial) and tune/ (Ray Tune's own trial folders).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shlex
import sys
from pathlib import Path

import yaml

from ..atomic import atomic_write_text
from ..cli import CommandParser, UsageError, cli_main, parse_duration, seed_int, user_error
from ..data import training_sampler, validation_set
from .checkpoint import CHECKPOINT, RUN_INFO, CheckpointError
from .engine import SearchEngine
from .generational import run_generations
from .asynchronous import RayBackend, run_asynchronous
from .evaluators import RayEvaluator, ResourceError, check_resources, dashboard_help, start_ray
from .genome import GenomeError
from .report import write_reports
from .result import RecordError
from .space import SCHEMES, SpaceError, load_space

user_error(SpaceError, GenomeError, CheckpointError, RecordError, ResourceError, ConnectionError)
log = logging.getLogger("nas.search")


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser("python -m nas.search", __doc__)
    p.add_argument(
        "--space",
        help="search space YAML: a path, or the name of a bundled space (default: rcab_dense.yaml)",
    )
    p.add_argument("--out", help="run folder (default: runs/<space name>-<timestamp>)")
    p.add_argument(
        "--resume", metavar="DIR", help="continue the run in DIR from its last finished generation"
    )
    p.add_argument(
        "--seed", type=seed_int, help="run seed: evolution and every candidate's training seed"
    )
    p.add_argument("--population", type=int, help="individuals per generation")
    p.add_argument("--generations", type=int, help="generations after the initial population")
    p.add_argument("--selection", choices=SCHEMES, help="selection scheme")
    p.add_argument("--steps", type=int, help="training steps of one fitness evaluation")
    p.add_argument(
        "--warmup-steps", type=int, help="of those, steps of linear learning-rate warm-up"
    )
    p.add_argument(
        "--width-multiplier", type=float, help="proxy widths as a fraction of the full network's"
    )
    p.add_argument("--patch-size", type=int, help="training patch side in pixels (a multiple of 8)")
    p.add_argument(
        "--data",
        help="training source: synthetic, synthetic:FILE.dng (its noise profile), "
        "sidd-medium:DIR, pairs:DIR; for an sRGB space synthetic-srgb, sidd-medium-srgb:DIR",
    )
    p.add_argument(
        "--val-data", help="validation source (default: the training source's own, e.g. synthetic)"
    )
    p.add_argument(
        "--cpus-per-trial", type=float, help="CPUs of one trial (also its PyTorch thread count)"
    )
    p.add_argument("--gpus-per-trial", type=float, help="GPUs of one trial (fractions share a GPU)")
    p.add_argument(
        "--max-concurrent",
        type=int,
        help="trials at once (default: as many as the resources allow)",
    )
    p.add_argument(
        "--rungs",
        type=float,
        nargs="+",
        help="also score each candidate after these fractions of its "
        "steps (its learning curve), e.g. 0.125 0.25 0.5",
    )
    p.add_argument(
        "--time-budget",
        help="stop after the generation that spends it (e.g. 90m, 2h; this call's time); "
        "--resume goes on",
    )
    p.add_argument(
        "--address",
        help="join an existing Ray cluster (e.g. 127.0.0.1:6379) instead of a local one",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="validate the space and the data, print the plan, and exit",
    )
    return p


def _print_generation(entry: dict, eta: float, total: int) -> None:
    print(
        f"gen {entry['gen']:>3}/{total}  best {entry['best']:7.3f} dB  median {entry['median']:7.3f} dB  "
        f"failed {entry['failed']}  stopped {entry['stopped']}  evals {entry['evals']} (+{entry['cached']} cached)  "
        f"elapsed {_duration(entry['elapsed'])}  ETA {_duration(eta)}",
        flush=True,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


def _configured_space(args):
    space = load_space(args.space or "rcab_dense.yaml")
    space = space.with_overrides(
        top={"seed": args.seed},
        evolution={
            "population": args.population,
            "generations": args.generations,
            "selection": args.selection,
        },
        budget={
            "steps": args.steps,
            "warmup_steps": args.warmup_steps,
            "width_multiplier": args.width_multiplier,
            "patch_size": args.patch_size,
            "data": args.data,
            "val_data": args.val_data,
            "rungs": args.rungs,
        },
        resources={
            "cpus": args.cpus_per_trial,
            "gpus": args.gpus_per_trial,
            "max_concurrent": args.max_concurrent,
        },
    )
    budget = space.budget
    training_sampler(budget.data, space.in_channels).check_patch(
        budget.patch_size
    )  # fail now, not in every trial
    validation_set(
        budget.val_data or budget.data, budget.val_blocks, budget.val_block_size, space.in_channels
    )
    return space


def _new_run_folder(args, space) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.out or Path("runs") / f"{space.name}-{stamp}")
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir}: is a file, not a folder")
    if (run_dir / CHECKPOINT).exists():
        raise UsageError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another --out"
        )
    return run_dir


def _start_new_run(run_dir: Path, space) -> SearchEngine:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "space.yaml", yaml.safe_dump(space.to_dict(), sort_keys=False))
    command = shlex.join(["python", "-m", "nas.search", *sys.argv[1:]])
    atomic_write_text(
        run_dir / RUN_INFO,
        json.dumps({"command": command, "started": dt.datetime.now().isoformat()}),
    )
    return SearchEngine(space, space.seed, run_dir)


def _resumed_run(args) -> SearchEngine:
    """The run in --resume; resources may change between sessions, the space and its settings may not."""
    fixed = [
        f
        for f in (
            "space",
            "seed",
            "population",
            "generations",
            "selection",
            "steps",
            "warmup_steps",
            "width_multiplier",
            "patch_size",
            "data",
            "val_data",
            "rungs",
            "out",
        )
        if getattr(args, f) is not None
    ]
    if fixed:
        raise UsageError(
            f"--resume continues a run as it was configured; drop --{fixed[0].replace('_', '-')} "
            "(only --cpus-per-trial, --gpus-per-trial, --max-concurrent and --address may change)"
        )
    run = SearchEngine.resume(Path(args.resume), repair=not args.check)
    run.space = run.space.with_overrides(
        resources={
            "cpus": args.cpus_per_trial,
            "gpus": args.gpus_per_trial,
            "max_concurrent": args.max_concurrent,
        }
    )
    return run


def _plan(space) -> str:
    e, b, r = space.evolution, space.budget, space.resources
    trainings = e.population + e.generations * e.children()
    warmup = f" ({b.warmup_steps} of warm-up)" if b.warmup_steps else ""
    return (
        f"space {space.name}: {e.selection}, population {e.population}, {e.generations} generations, "
        f"at most {trainings} trainings of {b.steps} steps{warmup} on {b.patch_size}-pixel patches "
        f"at width x{b.width_multiplier} on {b.data}; "
        f"{r.cpus:g} CPU and {r.gpus:g} GPU per trial"
    )


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    time_budget_s = parse_duration(args.time_budget, "--time-budget") if args.time_budget else None
    if args.resume:
        run = _resumed_run(args)
        space, run_dir = run.space, run.run_dir
    else:
        space = _configured_space(args)
        run, run_dir = None, _new_run_folder(args, space)
    if args.check:
        print(_plan(space))
        print("space and data: OK")
        return
    total = space.evolution.generations
    if run is not None and run.finished:
        print(f"{run_dir}: all {total} generations are done")
    else:
        print(dashboard_help(start_ray(args.address)))
        check_resources(space.resources)  # before anything is written: a trial must fit somewhere
        run = run or _start_new_run(run_dir, space)
        print(f"run folder: {run_dir}")
        if space.evolution.asynchronous:  # no generation barrier: one Tuner for the search
            finished = run_asynchronous(
                run,
                RayBackend.for_space(run_dir, space.resources),
                progress=lambda p: (write_reports(run), print(p.line(), flush=True)),
                time_budget_s=time_budget_s,
                report_every=space.evolution.children(),
            )
        else:
            finished = run_generations(
                run,
                RayEvaluator.for_space(run_dir, space.resources),
                progress=lambda entry, eta: (
                    write_reports(run),
                    _print_generation(entry, eta, total),
                ),
                time_budget_s=time_budget_s,
            )
        if not finished:
            print(
                f"time budget of {args.time_budget} spent after generation {run.generation - 1} of {total}; "
                f"go on with: python -m nas.search --resume {run_dir} [--time-budget ...]"
            )
    best = write_reports(run)
    m = best.metrics
    print(
        f"best: {best.key}  PSNR {m.psnr:.3f} dB  SSIM {m.ssim:.4f}  params {m.params:,}  "
        f"GFLOPs@256 {m.gflops:.1f}"
    )
    print(
        f"wrote {run_dir / 'best.json'}; build it with: python -m nas.export {run_dir / 'best.json'}"
    )


if __name__ == "__main__":
    main()
