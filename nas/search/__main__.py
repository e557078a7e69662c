"""Evolutionary architecture search: DEAP evolves genomes, Ray Tune trains each generation.

    python -m nas.search --space rcab_dense.yaml
    python -m nas.search --resume runs/rcab_dense-20261125-101500
    python -m nas.search --space rcab_dense.yaml --trainings 100 --time-budget 2h  # 2 hours

Flags override the space file for quick experiments. Outputs go to the run folder: the space as
used (space.yaml), run.json (the command), the journal evaluations.jsonl and its table
evaluations.csv, logbook.csv, best.json, checkpoint.json, fitness.png (and pareto.png),
tensorboard/ (one log per trial, written by the driver) and ray.log (Ray's own messages).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from ..cli import CommandParser, UsageError, cli_main, parse_duration, seed_int, user_error
from .evaluators import ResourceError
from .result import RecordError
from .run import OVERRIDES, RESOURCE_OVERRIDES, check, configure, plan, resume, search
from .space import SCHEMES

# The library's errors that are bad input (UserError subclasses are caught anyway).
user_error(RecordError, ResourceError, ConnectionError)
log = logging.getLogger("nas.search")
FLAG_OF = {"cpus": "cpus_per_trial", "gpus": "gpus_per_trial"}  # API name -> argparse dest


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
    p.add_argument(
        "--trainings",
        type=int,
        help="trainings of the whole search, the initial population's included "
        "(the generations follow)",
    )
    p.add_argument(
        "--generations",
        type=int,
        help="generations after the initial population (the count of trainings follows)",
    )
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
        f"gen {entry['gen']:>3}/{total}  best {entry['best']:7.3f} dB  "
        f"median {entry['median']:7.3f} dB  failed {entry['failed']}  stopped {entry['stopped']}  "
        f"evals {entry['evals']} (+{entry['cached']} cached)  "
        f"elapsed {_duration(entry['elapsed'])}  ETA {_duration(eta)}",
        flush=True,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


def _given(args, names) -> dict:
    """The flags given on the command line, by their API names."""
    flags = {name: getattr(args, FLAG_OF.get(name, name)) for name in names}
    return {name: value for name, value in flags.items() if value is not None}


def _fixed_flag(args) -> str | None:
    """A flag that would change what a resumed run searches (refused)."""
    names = [n for n in OVERRIDES if n not in RESOURCE_OVERRIDES] + ["space", "out"]
    given = [n for n in names if getattr(args, FLAG_OF.get(n, n)) is not None]
    return FLAG_OF.get(given[0], given[0]) if given else None


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    time_budget_s = parse_duration(args.time_budget, "--time-budget") if args.time_budget else None
    resources = _given(args, RESOURCE_OVERRIDES)
    if args.resume:
        fixed = _fixed_flag(args)
        if fixed:
            raise UsageError(
                f"--resume continues a run as it was configured; drop --{fixed.replace('_', '-')} "
                "(only --cpus-per-trial, --gpus-per-trial, --max-concurrent and --address may "
                "change)"
            )
        if args.check:
            engine = check(args.resume)
            print(plan(engine.space.with_overrides(resources=_resource_fields(resources))))
            print("space and data: OK")
            return
        outcome = resume(
            args.resume,
            address=args.address,
            time_budget_s=time_budget_s,
            progress=_print_generation,
            announce=print,
            **resources,
        )
    else:
        overrides = _given(args, OVERRIDES)
        if args.check:
            print(plan(configure(args.space or "rcab_dense.yaml", **overrides)))
            print("space and data: OK")
            return
        outcome = search(
            args.space or "rcab_dense.yaml",
            out=args.out,
            address=args.address,
            time_budget_s=time_budget_s,
            progress=_print_generation,
            announce=print,
            command=shlex.join(["python", "-m", "nas.search", *sys.argv[1:]]),
            **overrides,
        )
    _print_outcome(outcome, args.time_budget)


def _resource_fields(resources: dict) -> dict:
    return {OVERRIDES[name][1]: value for name, value in resources.items()}


def _print_outcome(outcome, time_budget: str | None) -> None:
    run_dir, total = outcome.run_dir, outcome.generations
    if not outcome.ran:
        print(f"{run_dir}: all {total} generations are done")
    elif not outcome.finished:
        print(
            f"time budget of {time_budget} spent after generation {outcome.generations_done - 1} "
            f"of {total}; go on with: python -m nas.search --resume {run_dir} [--time-budget ...]"
        )
    m = outcome.best.metrics
    print(
        f"best: {outcome.best.key}  PSNR {m.psnr:.3f} dB  SSIM {m.ssim:.4f}  "
        f"params {m.params:,}  GFLOPs@256 {m.gflops:.1f}"
    )
    best_json = run_dir / "best.json"
    print(f"wrote {best_json}; build it with: python -m nas.export {best_json}")


if __name__ == "__main__":
    main()
