"""Evolutionary architecture search: DEAP evolves genomes, Ray Tune trains each generation.

    python -m nas.search --space rcab_dense.yaml
    python -m nas.search --resume runs/rcab_dense-20261125-101500

Flags override the space file for quick experiments. Outputs go to the run folder: the space as
used, evaluations.csv, logbook.csv, best.json, checkpoint.json, fitness.png (and pareto.png),
tensorboard/ (one log per trial) and tune/ (Ray Tune's own trial folders).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
from pathlib import Path

import yaml

from .cli import UsageError, cli_main, user_error
from .data import training_sampler, validation_set
from .engine import CHECKPOINT, CheckpointError, Evolution
from .genome import GenomeError
from .ray_runner import RayEvaluator, dashboard_help, start_ray
from .report import write_reports
from .space import SpaceError, load_space

user_error(SpaceError, GenomeError, CheckpointError)
log = logging.getLogger("nas.search")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nas.search", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", default="rcab_dense.yaml", help="search space YAML: a path, or a name in search_spaces/")
    p.add_argument("--out", help="run folder (default: runs/<space name>-<timestamp>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last finished generation")
    p.add_argument("--seed", type=int, help="run seed: evolution and every candidate's training seed")
    p.add_argument("--population", type=int, help="individuals per generation")
    p.add_argument("--generations", type=int, help="generations after the initial population")
    p.add_argument("--selection", choices=["tournament", "nsga2", "aging"], help="selection scheme")
    p.add_argument("--steps", type=int, help="training steps of one fitness evaluation")
    p.add_argument("--data", help="training source: synthetic, sidd-medium:DIR, pairs:DIR")
    p.add_argument("--val-data", help="validation source (default: the training source's own, e.g. synthetic)")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs of one trial (also its PyTorch thread count)")
    p.add_argument("--gpus-per-trial", type=float, help="GPUs of one trial (fractions share a GPU)")
    p.add_argument("--address", help="join an existing Ray cluster (e.g. 127.0.0.1:6379) instead of a local one")
    return p


def _print_generation(entry: dict, eta: float, total: int) -> None:
    print(f"gen {entry['gen']:>3}/{total}  best {entry['best']:7.3f} dB  median {entry['median']:7.3f} dB  "
          f"failed {entry['failed']}  evals {entry['evals']} (+{entry['cached']} cached)  "
          f"elapsed {_duration(entry['elapsed'])}  ETA {_duration(eta)}", flush=True)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s"


def _new_run(args) -> Evolution:
    space = load_space(args.space)
    space = space.with_overrides(
        top={"seed": args.seed},
        evolution={"population": args.population, "generations": args.generations, "selection": args.selection},
        budget={"steps": args.steps, "data": args.data, "val_data": args.val_data},
        resources={"cpus": args.cpus_per_trial, "gpus": args.gpus_per_trial})
    budget = space.budget
    training_sampler(budget.data)                                    # fail now, not in every trial
    validation_set(budget.val_data or budget.data, budget.val_blocks, budget.val_block_size)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(args.out or Path("runs") / f"{space.name}-{stamp}")
    if (run_dir / CHECKPOINT).exists():
        raise UsageError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "space.yaml").write_text(yaml.safe_dump(space.to_dict(), sort_keys=False))
    run = Evolution(space, run_dir, RayEvaluator(run_dir, space.resources.cpus, space.resources.gpus), space.seed)
    return run


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.resume:
        overrides = [f for f in ("seed", "population", "generations", "selection", "steps", "data", "val_data", "out")
                     if getattr(args, f) is not None]
        if overrides:
            raise UsageError(f"--resume continues a run as it was configured; drop --{overrides[0].replace('_', '-')}")
        run = Evolution.resume(Path(args.resume), evaluator=None)
        run.evaluator = RayEvaluator(run.run_dir, run.space.resources.cpus, run.space.resources.gpus)
    else:
        run = _new_run(args)
    total = run.space.evolution.generations
    if run.generation > total:
        print(f"{run.run_dir}: all {total} generations are done")
    else:
        print(f"run folder: {run.run_dir}")
        print(dashboard_help(start_ray(args.address)))
        space_dict = run.space.to_dict()
        run.run(progress=lambda entry, eta: (write_reports(run, space_dict), _print_generation(entry, eta, total)))
    best = write_reports(run, run.space.to_dict())
    m = best["metrics"]
    print(f"best: {best['key']}  PSNR {m['psnr']:.3f} dB  SSIM {m['ssim']:.4f}  params {m['params']:,}  "
          f"GFLOPs@256 {m['gflops']:.1f}")
    print(f"wrote {run.run_dir / 'best.json'}; build it with: python -m nas.export {run.run_dir / 'best.json'}")


if __name__ == "__main__":
    main()
