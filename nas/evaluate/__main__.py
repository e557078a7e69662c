"""Evaluate a denoiser on fixed validation blocks.

    python -m nas.evaluate --arch mwrcanet_paper --weights dn_mwrcanet_raw_c1.pth \\
        --data siddplus-val:DIR --ensemble --ensemble-protocol paper --out runs/eval.csv
"""

from __future__ import annotations

import argparse

import torch

from ..cli import (
    CommandParser,
    add_ensemble_options,
    cli_main,
    cpu_threads,
    defaults_of,
    ensemble_choice,
    multiple_of_8,
    positive_int,
)
from ..data.bayer import PATTERNS
from ..device import DEVICE_HELP
from .run import evaluate

DEFAULTS = defaults_of(evaluate)


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
        "--block-size",
        type=multiple_of_8,
        default=DEFAULTS["block_size"],
        help="block size of the synthetic set",
    )
    add_ensemble_options(parser)
    parser.add_argument(
        "--tile", type=int, help="tiled inference with tiles of this size (multiple of 8)"
    )
    parser.add_argument(
        "--overlap",
        type=int,
        help="tile overlap, a multiple of 8 (default: 32, at most half the tile)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"])
    parser.add_argument("--no-ssim", action="store_true", help="skip SSIM (faster)")
    parser.add_argument("--threads", type=cpu_threads, help="PyTorch CPU threads")
    parser.add_argument("--device", default=DEFAULTS["device"], help=DEVICE_HELP)
    parser.add_argument("--out", help="per-block CSV (one row per block, a psnr column)")
    return parser


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = evaluate(
        args.arch,
        weights=args.weights,
        data=args.data,
        cfa=args.cfa,
        blocks=args.blocks,
        block_size=args.block_size,
        **ensemble_choice(args),
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        ssim=not args.no_ssim,
        device=args.device,
        out=args.out,
    )
    print(result.summary().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if result.out is not None:
        print(f"per-block results: {result.out}")


if __name__ == "__main__":
    main()
