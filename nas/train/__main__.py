"""Train one network in full: L1, Adam with a cosine schedule (optionally warmed up), validation
every K steps, resumable checkpoints, best and last weights, metrics as CSV and TensorBoard, AMP
and channels_last on GPU.

    python -m nas.train --arch runs/NAME/export-KEY/model.json --data synthetic --steps 20000
    python -m nas.train --arch mwresnet --data sidd-medium:DIR --val-data sidd-val:DIR \\
        --steps 200000
    python -m nas.train --arch mwresnet --data synthetic --steps 20000 --out runs/train-x --resume
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from models import read_state_dict

from ..arch import resolve_arch
from ..cli import CommandParser, cli_main, user_error
from ..data import default_source, source_channels, training_sampler, validation_set
from .loop import NonFiniteLoss
from .options import add_training_arguments, prepare
from .trainer import TrainError, train_network

user_error(TrainError, NonFiniteLoss)


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser("python -m nas.train", __doc__)
    p.add_argument(
        "--arch",
        required=True,
        help="named architecture, genome/spec/best.json/model.json, or model file",
    )
    p.add_argument("--weights", help="initial weights (fine-tuning); default: from scratch")
    add_training_arguments(p)
    return p


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    config = prepare(args)
    spec = resolve_arch(args.arch, source_channels(args.data) if args.data else None)[0]
    data = args.data or default_source(spec.in_channels)
    sampler = training_sampler(data, spec.in_channels)
    sampler.check_patch(config.patch_size)
    val = validation_set(
        args.val_data or data, args.val_blocks, args.val_block_size, spec.in_channels
    )
    out = Path(args.out or Path("runs") / f"train-{spec.key()}-{dt.datetime.now():%Y%m%d-%H%M%S}")
    summary = train_network(
        spec,
        sampler,
        val,
        out,
        config,
        resume=args.resume,
        init_state=read_state_dict(args.weights) if args.weights else None,
    )
    print(f"best validation PSNR {summary.best_psnr:.3f} dB after {summary.steps} steps")
    print(f"best weights {summary.best}   last weights {summary.final}   metrics {summary.metrics}")


if __name__ == "__main__":
    main()
