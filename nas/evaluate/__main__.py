"""Evaluate a denoiser on fixed validation blocks.

    python -m nas.evaluate --arch mwrcanet_paper --weights dn_mwrcanet_raw_c1.pth \\
        --data siddplus-val:DIR --ensemble --out runs/eval.csv
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd
import torch

from ..arch import is_named, load_denoiser
from ..atomic import atomic_write_text
from ..cli import CommandParser, UsageError, cli_main, cpu_threads, multiple_of_8, positive_int
from ..data import BlockSet, default_source, source_channels, validation_set
from ..data.bayer import DEFAULT_PATTERN, PATTERNS, unify_crop
from ..device import DEVICE_HELP, resolve_device
from ..inference import PatternAligned, check_tiling, default_overlap, network_channels
from ..scoring import evaluate_blocks, summarize

log = logging.getLogger("nas.evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser("python -m nas.evaluate", __doc__)
    parser.add_argument(
        "--arch",
        required=True,
        help="named architecture, spec/genome/best.json file, or a model file (.pt)",
    )
    parser.add_argument(
        "--weights", help="weights: the released checkpoint, a bare state dict or a model file"
    )
    parser.add_argument(
        "--data",
        help="validation source: synthetic, sidd-val:DIR, siddplus-val:DIR, pairs:DIR; for "
        "sRGB networks synthetic-srgb, sidd-srgb-val:DIR (default: synthetic or synthetic-srgb)",
    )
    parser.add_argument(
        "--cfa",
        type=str.upper,
        choices=PATTERNS,
        help="CFA pattern of the validation blocks (default: the network's; synthetic is RGGB)",
    )
    parser.add_argument(
        "--blocks", type=positive_int, help="evaluate an evenly spaced subset of this many blocks"
    )
    parser.add_argument(
        "--block-size", type=multiple_of_8, default=128, help="block size of the synthetic set"
    )
    parser.add_argument(
        "--ensemble", action="store_true", help="x8 self-ensemble (the paper's protocol)"
    )
    parser.add_argument(
        "--tile", type=int, help="tiled inference with tiles of this size (multiple of 8)"
    )
    parser.add_argument(
        "--overlap",
        type=int,
        help="tile overlap, a multiple of 8 (default: 32, at most half the tile)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--no-ssim", action="store_true", help="skip SSIM (faster)")
    parser.add_argument("--threads", type=cpu_threads, help="PyTorch CPU threads")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--out", help="per-block CSV (one row per block, a psnr column)")
    return parser


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tile is not None:
        check_tiling(
            args.tile, default_overlap(args.tile) if args.overlap is None else args.overlap
        )
    elif args.overlap is not None:
        raise UsageError("--overlap needs --tile")
    if args.out and not Path(args.out).parent.is_dir():
        raise FileNotFoundError(f"--out: folder not found: {Path(args.out).parent}")
    model, model_pattern = load_denoiser(
        args.arch, args.weights, resolve_device(args.device), _named_channels(args)
    )
    if args.weights is None and not args.arch.endswith((".pt", ".pth")):
        log.warning("warning: no --weights given, evaluating an untrained network")
    channels = network_channels(model)
    if args.cfa and channels != 1:
        raise UsageError("--cfa is for raw mosaics; this network takes sRGB images")
    blocks = validation_set(
        args.data or default_source(channels), args.blocks, args.block_size, channels
    )
    if channels == 1:
        model, blocks = _unified(
            model, model_pattern, blocks, args.cfa or model_pattern, args.ensemble
        )
    table = evaluate_blocks(
        model,
        blocks,
        ensemble=args.ensemble,
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        with_ssim=not args.no_ssim,
        progress=True,
    )
    if args.out:
        atomic_write_text(args.out, table.to_csv(index=False))
    summary = summarize(table)
    print(
        pd.DataFrame([{"data": blocks.source, "ensemble": args.ensemble, **summary}]).to_string(
            index=False, float_format=lambda v: f"{v:.4f}"
        )
    )
    if args.out:
        print(f"per-block results: {args.out}")


def _named_channels(args) -> int | None:
    """What a named --arch is built for: the channels --data holds (its files decide for
    pairs:DIR: read once here); None (raw) without --data or for a network file."""
    if not args.data or not is_named(args.arch):
        return None
    known = source_channels(args.data)
    return known if known is not None else validation_set(args.data, 1, args.block_size).channels


def _unified(model, model_pattern: str, blocks: BlockSet, data_pattern: str, ensemble: bool):
    """Scoring and its ensemble work in RGGB: blocks in another pattern are cropped into RGGB
    (noisy and clean alike), and a network trained on another pattern is wrapped to take RGGB."""
    if data_pattern == model_pattern and (model_pattern == DEFAULT_PATTERN or not ensemble):
        return model, blocks
    if data_pattern != DEFAULT_PATTERN:
        log.info(
            f"note: {data_pattern} blocks are cropped into RGGB by one row/column at each end where needed"
        )
        crop = lambda arrays: [unify_crop(b, data_pattern, DEFAULT_PATTERN) for b in arrays]
        blocks = BlockSet(crop(blocks.noisy), crop(blocks.clean), blocks.source, blocks.channels)
    if model_pattern != DEFAULT_PATTERN:
        model = PatternAligned(model, DEFAULT_PATTERN, model_pattern)
    return model, blocks


if __name__ == "__main__":
    main()
