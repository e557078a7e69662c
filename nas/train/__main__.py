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

from ..cli import CommandParser, cli_main, user_error
from .loop import NonFiniteLoss
from .options import add_training_arguments, prepare
from .run import train
from .trainer import TrainError

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
    summary = train(
        args.arch,
        data=args.data,
        val_data=args.val_data,
        out=args.out,
        weights=args.weights,
        resume=args.resume,
        config=prepare(args),
        val_blocks=args.val_blocks,
        val_block_size=args.val_block_size,
    )
    print(f"best validation PSNR {summary.best_psnr:.3f} dB after {summary.steps} steps")
    print(f"best weights {summary.best}   last weights {summary.final}   metrics {summary.metrics}")


if __name__ == "__main__":
    main()
