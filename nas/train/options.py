"""Command-line options shared by ``nas.train`` and ``nas.distill``, and the config they make."""

from __future__ import annotations

import argparse

import torch

from ..cli import UsageError, cpu_threads, multiple_of_8, positive_int, seed_int
from ..device import AMP_MODES, DEVICE_HELP, resolve_device
from .trainer import TrainConfig

__all__ = ["add_training_arguments", "prepare", "config_from"]


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by train and distill."""
    p.add_argument(
        "--data",
        help="training source: synthetic, synthetic:FILE.dng (its noise profile), synthetic-srgb, sidd-medium:DIR, "
        "sidd-medium-srgb:DIR, "
        "pairs:DIR (default: synthetic for raw networks, synthetic-srgb for sRGB ones)",
    )
    p.add_argument(
        "--val-data", help="validation source (default: the training source's, e.g. synthetic)"
    )
    p.add_argument("--steps", type=int, required=True, help="training steps")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--patch-size", type=int, default=64, help="training patch side, a multiple of 8"
    )
    p.add_argument(
        "--lr", type=float, default=2e-4, help="peak learning rate (cosine decay to 1%%)"
    )
    p.add_argument(
        "--val-every", type=int, default=500, help="validate (and checkpoint) every K steps"
    )
    p.add_argument(
        "--val-blocks",
        type=positive_int,
        default=64,
        help="validation blocks (an evenly spaced subset)",
    )
    p.add_argument(
        "--val-block-size",
        type=multiple_of_8,
        default=128,
        help="block side of the synthetic validation set",
    )
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--amp",
        default="auto",
        choices=AMP_MODES,
        help="mixed precision on GPU (auto: bf16 where "
        "supported, else fp16 with a gradient scaler)",
    )
    p.add_argument("--threads", type=cpu_threads, help="PyTorch CPU threads")
    p.add_argument("--out", help="output folder")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its last checkpoint"
    )


def prepare(args) -> TrainConfig:
    """Apply --threads, check --resume/--out, and return the validated training config."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.resume and not args.out:
        raise UsageError("--resume needs --out, the folder of the run to continue")
    return config_from(args)


def config_from(args) -> TrainConfig:
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        patch_size=args.patch_size,
        lr=args.lr,
        val_every=args.val_every,
        seed=args.seed,
        device=str(resolve_device(args.device)),
        amp=args.amp,
    )
    config.validate()
    return config
