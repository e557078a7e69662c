"""Denoise one full-size image with tiled inference: for a raw network, a camera raw file (DNG,
CR2, NEF, ARW, ... anything LibRaw reads) or a normalized mosaic (.npy, .mat, or a grey PNG/TIFF as
in pairs:DIR, which also reads this command's float TIFF back); for an sRGB network,
a PNG, JPEG or TIFF photo (8 or 16 bit).

    python -m nas.denoise IMG_0001.dng denoised.dng --arch runs/NAME/export/model.pt \\
        --preview compare.png
    python -m nas.denoise NOISY.mat OUT.mat --key x --cfa BGGR --arch mwrcanet_paper \\
        --weights dn_mwrcanet_raw_c1.pth

The output format follows OUT's suffix: .dng (a 16-bit CFA DNG with the source's metadata), or
the normalized mosaic as .npy, .mat (under --key) or float32 .tif/.tiff. Mosaics in another CFA
pattern than the network's are unified by padding and restored, so the output has the input's
size and pattern. --preview writes noisy and denoised side by side as an sRGB PNG.

    python -m nas.denoise photo.png denoised.png --arch runs/NAME/export/model.pt \\
        --preview compare.png

An sRGB output is a PNG, JPEG (quality 95) or TIFF at the input's bit depth (JPEG: 8 bit); it
and the preview keep the photo's ICC profile and EXIF (TIFF: the ICC profile only).
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
)
from ..data.bayer import PATTERNS
from ..device import DEVICE_HELP
from .run import DenoiseResult, denoise

DEFAULTS = defaults_of(denoise)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser("python -m nas.denoise", __doc__)
    parser.add_argument(
        "input",
        help="noisy mosaic: a camera raw file (.dng, .cr2, .nef, ...), .npy (2-D), .mat or "
        "a grey .png/.tif; "
        "for an sRGB network a .png, .jpg or .tif photo",
    )
    parser.add_argument(
        "output", help="denoised mosaic: .dng, .npy, .mat, .tif or .tiff; sRGB: .png, .jpg or .tif"
    )
    parser.add_argument(
        "--key",
        default=DEFAULTS["key"],
        help="array name inside a .mat file (default: %(default)s, as in SIDD)",
    )
    parser.add_argument(
        "--cfa",
        type=str.upper,
        choices=PATTERNS,
        help="CFA pattern of a .npy/.mat or grey PNG/TIFF mosaic (default: the network's); "
        "raw files carry their own",
    )
    parser.add_argument(
        "--arch", required=True, help="named architecture, spec/genome JSON, or model file"
    )
    parser.add_argument(
        "--weights", help="weights file (released checkpoint, state dict or model file)"
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=DEFAULTS["tile"],
        help="tile size, a multiple of 8 (0: whole image; default: %(default)s)",
    )
    parser.add_argument(
        "--overlap",
        type=int,
        help="tile overlap, a multiple of 8 (default: 32, at most half the tile)",
    )
    add_ensemble_options(parser, " per tile")
    parser.add_argument(
        "--preview",
        help="also write noisy | denoised side by side as an sRGB image (.png, .jpg or .tif)",
    )
    parser.add_argument("--threads", type=cpu_threads, help="PyTorch CPU threads")
    parser.add_argument("--device", default=DEFAULTS["device"], help=DEVICE_HELP)
    return parser


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = denoise(
        args.input,
        args.output,
        arch=args.arch,
        weights=args.weights,
        cfa=args.cfa,
        key=args.key,
        tile=args.tile,
        overlap=args.overlap,
        **ensemble_choice(args),
        preview=args.preview,
        device=args.device,
    )
    print(describe(result))


def describe(result: DenoiseResult) -> str:
    """The command's one line about a denoised image."""
    if result.channels == 3:
        what = f"sRGB ({result.bits}-bit output)"
    else:
        unified = (
            ""
            if result.cfa == result.network_cfa
            else f", unified to the network's {result.network_cfa}"
        )
        what = f"{result.cfa}{unified}"
    preview = f"; preview {result.preview}" if result.preview else ""
    return (
        f"denoised {result.height} x {result.width} {what} in {result.seconds:.1f} s -> "
        f"{result.output}{preview}"
    )


if __name__ == "__main__":
    main()
