"""Train one network in full: L1, Adam with a cosine schedule, validation every K steps,
resumable checkpoints, best and last weights, metrics as CSV and TensorBoard, AMP on GPU.

    python -m nas.train --arch runs/NAME/export-KEY/model.json --data synthetic --steps 20000
    python -m nas.train --arch mwresnet --data sidd-medium:DIR --val-data sidd-val:DIR --steps 200000
    python -m nas.train --arch mwresnet --data synthetic --steps 20000 --out runs/train-x --resume
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import torch

from models import read_state_dict

from .arch import resolve_arch
from .cli import UsageError, cli_main, user_error
from .data import training_sampler, validation_set
from .exporting import ExportError, read_result
from .genome import spec_key
from .trainer import TrainConfig, TrainError, train_network
from .training import NonFiniteLoss

user_error(TrainError, ExportError, NonFiniteLoss)


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by train and distill."""
    p.add_argument("--data", default="synthetic", help="training source: synthetic, sidd-medium:DIR, pairs:DIR")
    p.add_argument("--val-data", help="validation source (default: the training source's, e.g. synthetic)")
    p.add_argument("--steps", type=int, required=True, help="training steps")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patch-size", type=int, default=64, help="training patch side, a multiple of 8")
    p.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (cosine decay to 1%%)")
    p.add_argument("--val-every", type=int, default=500, help="validate (and checkpoint) every K steps")
    p.add_argument("--val-blocks", type=int, default=64, help="validation blocks (an evenly spaced subset)")
    p.add_argument("--val-block-size", type=int, default=128, help="block side of the synthetic validation set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, help="PyTorch CPU threads")
    p.add_argument("--out", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")


def prepare(args) -> TrainConfig:
    """Apply --threads, check --resume/--out, and return the validated training config."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume and not args.out:
        raise UsageError("--resume needs --out, the folder of the run to continue")
    return config_from(args)


def config_from(args) -> TrainConfig:
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, patch_size=args.patch_size, lr=args.lr,
                         val_every=args.val_every, seed=args.seed, device=args.device)
    config.validate()
    return config


def spec_from(arch: str):
    """A named architecture, spec/model file, or a genome/best.json (decoded with its space)."""
    if arch.endswith(".json") and Path(arch).is_file():
        try:
            return read_result(arch)["spec"]
        except ExportError:
            pass   # a plain spec JSON: resolve_arch reads it
    return resolve_arch(arch)[0]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nas.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True, help="named architecture, genome/spec/best.json/model.json, or model file")
    p.add_argument("--weights", help="initial weights (fine-tuning); default: from scratch")
    add_training_arguments(p)
    return p


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    config = prepare(args)
    spec = spec_from(args.arch)
    sampler = training_sampler(args.data)
    val = validation_set(args.val_data or args.data, args.val_blocks, args.val_block_size)
    out = Path(args.out or Path("runs") / f"train-{spec_key(spec)}-{dt.datetime.now():%Y%m%d-%H%M%S}")
    summary = train_network(spec, sampler, val, out, config, resume=args.resume,
                            init_state=read_state_dict(args.weights) if args.weights else None)
    print(f"best validation PSNR {summary['best_psnr']:.3f} dB after {summary['steps']} steps")
    print(f"best weights {summary['best']}   last weights {summary['final']}   metrics {out / 'metrics.csv'}")


if __name__ == "__main__":
    main()
