"""Command-line options shared by ``nas.train`` and ``nas.distill``, and the config they make.

The options of the training config take their defaults and help from its fields
(nas/train/config.py); only the data and validation-set options are the command line's own.
"""

from __future__ import annotations

import argparse

import torch
from pydantic import ValidationError

from ..cli import UsageError, cpu_threads, multiple_of_8, positive_int, seed_int
from ..device import AMP_MODES, resolve_device
from .config import GPU_MODES, TrainConfig, describe_error
from .run import VAL_BLOCK_SIZE, VAL_BLOCKS

__all__ = ["add_training_arguments", "prepare", "config_from"]

FIELDS = TrainConfig.model_fields


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _config_argument(p: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """An option for the config field ``name``, with the field's default and description."""
    field = FIELDS[name]
    if field.is_required():
        kwargs["required"] = True
    else:
        kwargs["default"] = field.default
    text = (field.description or "").replace("%", "%%")
    if not field.is_required() and kwargs.get("action") is None:
        text += " (default: %(default)s)"
    p.add_argument(_option(name), help=text, **kwargs)


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by train and distill."""
    p.add_argument(
        "--data",
        help="training source: synthetic, synthetic:FILE.dng (its noise profile), synthetic-srgb, "
        "sidd-medium:DIR, sidd-medium-srgb:DIR, pairs:DIR (default: synthetic for raw networks, "
        "synthetic-srgb for sRGB ones)",
    )
    p.add_argument(
        "--val-data", help="validation source (default: the training source's, e.g. synthetic)"
    )
    for name in ("steps", "batch_size", "patch_size", "warmup_steps", "val_every"):
        _config_argument(p, name, type=int)
    _config_argument(p, "lr", type=float)
    p.add_argument(
        "--val-blocks",
        type=positive_int,
        default=VAL_BLOCKS,
        help="validation blocks (an evenly spaced subset)",
    )
    p.add_argument(
        "--val-block-size",
        type=multiple_of_8,
        default=VAL_BLOCK_SIZE,
        help="block side of the synthetic validation set",
    )
    _config_argument(p, "seed", type=seed_int)
    _config_argument(p, "device")
    _config_argument(p, "amp", choices=AMP_MODES)
    _config_argument(p, "channels_last", action=argparse.BooleanOptionalAction)
    _config_argument(p, "cuda_graphs", choices=GPU_MODES)
    _config_argument(p, "device_batches", choices=GPU_MODES)
    _config_argument(p, "sync_every", type=positive_int)
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
    """The training config of parsed arguments; UsageError (one line) if a value is invalid."""
    values = {name: getattr(args, name) for name in FIELDS}
    try:
        return TrainConfig(**{**values, "device": str(resolve_device(args.device))})
    except ValidationError as err:
        raise UsageError(describe_error(err, _option)) from None
