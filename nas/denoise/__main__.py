"""Denoise one full-size raw mosaic (.npy, or .mat with a named array) with tiled inference.

    python -m nas.denoise NOISY.mat OUT.mat --key x --arch mwrcanet_paper --weights dn_mwrcanet_raw_c1.pth

The output has the input's format: .npy, or a MATLAB v5 .mat with the same key.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..arch import load_model
from ..cli import CommandParser, UsageError, cli_main
from ..data import read_array, write_array
from ..inference import check_tiling, default_overlap, denoise_array, tile_count


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser("python -m nas.denoise", __doc__)
    parser.add_argument("input", help="noisy mosaic: .npy (2-D) or .mat")
    parser.add_argument("output", help="denoised mosaic, same format as the input")
    parser.add_argument("--key", default="x", help="array name inside a .mat file (default: x, as in SIDD)")
    parser.add_argument("--arch", required=True, help="named architecture, spec/genome JSON, or model file")
    parser.add_argument("--weights", help="weights file (released checkpoint, state dict or model file)")
    parser.add_argument("--tile", type=int, default=512, help="tile size, a multiple of 8 (0: whole image)")
    parser.add_argument("--overlap", type=int, help="tile overlap, a multiple of 8 (default: 32, at most half the tile)")
    parser.add_argument("--ensemble", action="store_true", help="x8 self-ensemble per tile")
    parser.add_argument("--threads", type=int, help="PyTorch CPU threads")
    return parser


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    src, dst = Path(args.input), Path(args.output)
    if src.suffix.lower() != dst.suffix.lower():
        raise UsageError(f"output {dst.name} must have the input's format ({src.suffix})")
    if args.tile:
        args.overlap = default_overlap(args.tile) if args.overlap is None else args.overlap
        check_tiling(args.tile, args.overlap)
    elif args.tile < 0:
        raise UsageError(f"--tile must be 0 (whole image) or a positive multiple of 8, got {args.tile}")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"output folder not found: {dst.parent}")
    noisy = read_array(src, args.key)
    if noisy.ndim != 2:
        raise UsageError(f"{src}: expected a 2-D mosaic, found shape {noisy.shape}")
    model = load_model(args.arch, args.weights)
    started = time.perf_counter()
    tiles = tile_count(*noisy.shape, args.tile, args.overlap) if args.tile else 1
    with tqdm(total=tiles, desc="denoise", unit="tile") as bar:
        denoised = denoise_array(model, noisy, ensemble=args.ensemble, tile=args.tile or None,
                                 overlap=args.overlap, progress=bar.update)
    write_array(dst, denoised, args.key)
    print(f"denoised {noisy.shape[0]} x {noisy.shape[1]} in {time.perf_counter() - started:.1f} s -> {dst}")


if __name__ == "__main__":
    main()
