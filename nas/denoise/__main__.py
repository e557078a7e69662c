"""Denoise one full-size image with tiled inference: for a raw network, a camera raw file (DNG,
CR2, NEF, ARW, ... anything LibRaw reads) or a normalized mosaic (.npy, .mat, or a grey PNG/TIFF as
in pairs:DIR, which also reads this command's float TIFF back); for an sRGB network,
a PNG, JPEG or TIFF photo (8 or 16 bit).

    python -m nas.denoise IMG_0001.dng denoised.dng --arch runs/NAME/export/model.pt --preview compare.png
    python -m nas.denoise NOISY.mat OUT.mat --key x --cfa BGGR --arch mwrcanet_paper --weights dn_mwrcanet_raw_c1.pth

The output format follows OUT's suffix: .dng (a 16-bit CFA DNG with the source's metadata), or
the normalized mosaic as .npy, .mat (under --key) or float32 .tif/.tiff. Mosaics in another CFA
pattern than the network's are unified by padding and restored, so the output has the input's
size and pattern. --preview writes noisy and denoised side by side as an sRGB PNG.

    python -m nas.denoise photo.png denoised.png --arch runs/NAME/export/model.pt --preview compare.png

An sRGB output is a PNG, JPEG (quality 95) or TIFF at the input's bit depth (JPEG: 8 bit); it
and the preview keep the photo's ICC profile and EXIF (TIFF: the ICC profile only).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..arch import load_denoiser
from ..device import DEVICE_HELP, resolve_device
from ..cli import CommandParser, UsageError, cli_main, cpu_threads
from ..data import describe_channels, write_array
from ..data.images import IMAGE_SUFFIXES, read_image_metadata, write_image
from ..data.bayer import PATTERNS, pattern_offset
from ..data.camera_raw import MIN_DNG_SIDE, read_mosaic, write_dng
from ..inference import check_tiling, default_overlap, denoise_array, network_channels, tile_count
from .preview import write_preview
from .srgb import denoise_srgb, read_srgb, side_by_side, srgb_tiles

OUTPUT_SUFFIXES = (".dng", ".npy", ".mat", ".tif", ".tiff")
SRGB_OUTPUT_SUFFIXES = IMAGE_SUFFIXES


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
        "--key", default="x", help="array name inside a .mat file (default: x, as in SIDD)"
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
        "--tile", type=int, default=512, help="tile size, a multiple of 8 (0: whole image)"
    )
    parser.add_argument(
        "--overlap",
        type=int,
        help="tile overlap, a multiple of 8 (default: 32, at most half the tile)",
    )
    parser.add_argument("--ensemble", action="store_true", help="x8 self-ensemble per tile")
    parser.add_argument(
        "--preview",
        help="also write noisy | denoised side by side as an sRGB image (.png, .jpg or .tif)",
    )
    parser.add_argument("--threads", type=cpu_threads, help="PyTorch CPU threads")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    return parser


def _check_paths(src: Path, dst: Path, preview: str | None, channels: int) -> None:
    if channels == 3 and src.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(
            f"the network takes {describe_channels(3)} but {src} is not one ({', '.join(IMAGE_SUFFIXES)})"
        )
    suffixes = OUTPUT_SUFFIXES if channels == 1 else SRGB_OUTPUT_SUFFIXES
    if dst.suffix.lower() not in suffixes:
        raise UsageError(
            f"output {dst.name}: the format for {describe_channels(channels)} must be one of "
            f"{', '.join(suffixes)}"
        )
    if preview and Path(preview).suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(
            f"--preview {preview}: the format must be one of {', '.join(IMAGE_SUFFIXES)}"
        )
    outputs = [dst] + ([Path(preview)] if preview else [])
    for path in outputs:
        if not path.parent.is_dir():
            raise FileNotFoundError(f"output folder not found: {path.parent}")
        if path.exists() and src.exists() and path.samefile(src):
            raise UsageError(
                f"output {path} is the input: choose another path, or the noisy input is overwritten"
            )
    if preview and Path(preview).resolve() == dst.resolve():
        raise UsageError(f"--preview {preview} is the output: choose another path")


@cli_main
def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    src, dst = Path(args.input), Path(args.output)
    if args.tile:
        args.overlap = default_overlap(args.tile) if args.overlap is None else args.overlap
        check_tiling(args.tile, args.overlap)
    elif args.tile < 0:
        raise UsageError(
            f"--tile must be 0 (whole image) or a positive multiple of 8, got {args.tile}"
        )
    model, model_pattern = load_denoiser(args.arch, args.weights, resolve_device(args.device))
    channels = network_channels(model)
    if channels == 3:
        _check_paths(src, dst, args.preview, channels)
        return _denoise_srgb_file(args, model, src, dst)
    noisy = read_mosaic(
        src, args.key, args.cfa, default_cfa=model_pattern
    )  # first: a wrong kind of input
    _check_paths(src, dst, args.preview, channels)
    height, width = noisy.mosaic.shape
    if dst.suffix.lower() == ".dng" and min(height, width) < MIN_DNG_SIDE:
        raise UsageError(
            f"{src}: {height} x {width} is too small for a DNG (LibRaw reads sides of {MIN_DNG_SIDE}+)"
        )
    started = time.perf_counter()
    dy, dx = pattern_offset(noisy.cfa, model_pattern)
    tiles = tile_count(height + dy, width + dx, args.tile, args.overlap) if args.tile else 1
    with tqdm(total=tiles, desc="denoise", unit="tile") as bar:
        denoised = denoise_array(
            model,
            noisy.mosaic,
            ensemble=args.ensemble,
            tile=args.tile or None,
            overlap=args.overlap,
            progress=bar.update,
            pattern=noisy.cfa,
            model_pattern=model_pattern,
        )
    if dst.suffix.lower() == ".dng":
        write_dng(dst, denoised, noisy)
    else:
        write_array(dst, denoised, args.key)
    if args.preview:
        write_preview(args.preview, noisy, denoised)
    unified = "" if noisy.cfa == model_pattern else f", unified to the network's {model_pattern}"
    print(
        f"denoised {height} x {width} {noisy.cfa}{unified} in {time.perf_counter() - started:.1f} s -> {dst}"
        + (f"; preview {args.preview}" if args.preview else "")
    )


def _denoise_srgb_file(args, model, src: Path, dst: Path) -> None:
    if args.cfa:
        raise UsageError("--cfa is for raw mosaics; this network takes sRGB images")
    noisy, bits = read_srgb(src)
    metadata = read_image_metadata(src)  # the colour profile and EXIF go to the output and preview
    started = time.perf_counter()
    with tqdm(total=srgb_tiles(noisy, args.tile, args.overlap), desc="denoise", unit="tile") as bar:
        denoised = denoise_srgb(
            model, noisy, args.ensemble, args.tile or None, args.overlap, bar.update
        )
    written = write_image(dst, denoised, bits, metadata)
    if args.preview:
        side_by_side(args.preview, noisy, denoised, metadata)
    height, width = noisy.shape[-2:]
    print(
        f"denoised {height} x {width} sRGB ({written}-bit output) in "
        f"{time.perf_counter() - started:.1f} s -> {dst}"
        + (f"; preview {args.preview}" if args.preview else "")
    )


if __name__ == "__main__":
    main()
