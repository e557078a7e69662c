"""``denoise``: one full-size image denoised with tiled inference, from Python.

from nas.denoise import denoise
result = denoise("IMG_0001.dng", "denoised.dng", arch="runs/NAME/export/model.pt",
                 preview="compare.png")
result.denoised              # the denoised mosaic (or 3 x H x W image), normalized
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..arch import load_denoiser
from ..cli import UsageError
from ..data import describe_channels, write_array
from ..data.bayer import parse_pattern, pattern_offset
from ..data.camera_raw import MIN_DNG_SIDE, read_mosaic, write_dng
from ..data.images import IMAGE_SUFFIXES, read_image_metadata, write_image
from ..device import resolve_device
from ..inference import (
    DEFAULT_ENSEMBLE_PROTOCOL,
    EnsembleProtocol,
    check_ensemble_protocol,
    check_tiling,
    default_overlap,
    denoise_array,
    network_channels,
    tile_count,
)
from .preview import write_preview
from .srgb import denoise_srgb, read_srgb, side_by_side, srgb_tiles

__all__ = ["OUTPUT_SUFFIXES", "SRGB_OUTPUT_SUFFIXES", "DenoiseResult", "denoise"]

OUTPUT_SUFFIXES = (".dng", ".npy", ".mat", ".tif", ".tiff")
SRGB_OUTPUT_SUFFIXES = IMAGE_SUFFIXES


@dataclass(frozen=True)
class DenoiseResult:
    """A denoised image: the files written, its size, what it held (``channels`` 1: a raw
    mosaic in ``cfa``, which the network's ``network_cfa`` was unified to; 3: an sRGB photo,
    written at ``bits`` per sample), the seconds of inference and writing, and the denoised
    array (normalized: H x W, or 3 x H x W)."""

    output: Path
    preview: Path | None
    height: int
    width: int
    channels: int
    cfa: str | None
    network_cfa: str | None
    bits: int | None
    seconds: float
    denoised: np.ndarray = field(repr=False)


def denoise(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    arch: str | os.PathLike,
    weights: str | os.PathLike | None = None,
    cfa: str | None = None,
    key: str = "x",
    tile: int | None = 512,
    overlap: int | None = None,
    ensemble: bool = False,
    ensemble_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
    preview: str | os.PathLike | None = None,
    device: str = "auto",
    progress: bool = True,
) -> DenoiseResult:
    """Denoise the image ``input`` with ``arch`` (and ``weights``) into ``output``.

    For a raw network, ``input`` is a camera raw file (DNG, CR2, NEF, ...) or a normalized
    mosaic (.npy, .mat under ``key``, a grey PNG/TIFF) in pattern ``cfa`` (default: the
    network's; raw files carry their own), and ``output`` a .dng (the source's metadata), .npy,
    .mat or float32 .tif. For an sRGB network, both are PNG, JPEG or TIFF photos. ``tile``: tiled
    inference with tiles of this side (0 or None: the whole image), ``overlap`` (default 32, at
    most half the tile); ``ensemble``: the x8 self-ensemble per tile, in ``ensemble_protocol``
    (see :func:`nas.inference.self_ensemble`). ``preview``: also write noisy and denoised side by
    side as an sRGB image.

    Raises UsageError for paths or options that do not fit the network, DataError for an
    unreadable input, ArchError, WeightsError or TilingError for unusable inputs; an existing
    output is left as it was.
    """
    src, dst = Path(input), Path(output)
    preview = os.fspath(preview) if preview else None
    tile = tile or 0
    protocol = check_ensemble_protocol(ensemble_protocol)
    if tile:  # a negative tile is refused here too
        overlap = default_overlap(tile) if overlap is None else overlap
        check_tiling(tile, overlap)
    model, model_pattern = load_denoiser(os.fspath(arch), weights, resolve_device(device))
    channels = network_channels(model)
    if channels == 3:
        _check_paths(src, dst, preview, channels)
        if cfa:
            raise UsageError("--cfa is for raw mosaics; this network takes sRGB images")
        return _denoise_srgb_file(model, src, dst, preview, tile, overlap, ensemble, progress)
    cfa = parse_pattern(cfa) if cfa else None
    noisy = read_mosaic(src, key, cfa, default_cfa=model_pattern)  # first: a wrong kind of input
    _check_paths(src, dst, preview, channels)
    height, width = noisy.mosaic.shape
    if dst.suffix.lower() == ".dng" and min(height, width) < MIN_DNG_SIDE:
        raise UsageError(
            f"{src}: {height} x {width} is too small for a DNG (LibRaw reads sides of "
            f"{MIN_DNG_SIDE}+)"
        )
    started = time.perf_counter()
    dy, dx = pattern_offset(noisy.cfa, model_pattern)
    tiles = tile_count(height + dy, width + dx, tile, overlap) if tile else 1
    with tqdm(total=tiles, desc="denoise", unit="tile", disable=not progress) as bar:
        denoised = denoise_array(
            model,
            noisy.mosaic,
            ensemble=ensemble,
            ensemble_protocol=protocol,
            tile=tile or None,
            overlap=overlap,
            progress=bar.update,
            pattern=noisy.cfa,
            model_pattern=model_pattern,
        )
    if dst.suffix.lower() == ".dng":
        write_dng(dst, denoised, noisy)
    else:
        write_array(dst, denoised, key)
    if preview:
        write_preview(preview, noisy, denoised)
    return DenoiseResult(
        output=dst,
        preview=Path(preview) if preview else None,
        height=height,
        width=width,
        channels=1,
        cfa=noisy.cfa,
        network_cfa=model_pattern,
        bits=None,
        seconds=time.perf_counter() - started,
        denoised=denoised,
    )


def _check_paths(src: Path, dst: Path, preview: str | None, channels: int) -> None:
    if channels == 3 and src.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(
            f"the network takes {describe_channels(3)} but {src} is not one "
            f"({', '.join(IMAGE_SUFFIXES)})"
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
                f"output {path} is the input: choose another path, or the noisy input is "
                "overwritten"
            )
    if preview and Path(preview).resolve() == dst.resolve():
        raise UsageError(f"--preview {preview} is the output: choose another path")


def _denoise_srgb_file(
    model, src: Path, dst: Path, preview, tile: int, overlap, ensemble: bool, progress: bool
) -> DenoiseResult:
    noisy, bits = read_srgb(src)
    metadata = read_image_metadata(src)  # the colour profile and EXIF go to the output and preview
    started = time.perf_counter()
    tiles = srgb_tiles(noisy, tile, overlap)
    with tqdm(total=tiles, desc="denoise", unit="tile", disable=not progress) as bar:
        denoised = denoise_srgb(model, noisy, ensemble, tile or None, overlap, bar.update)
    written = write_image(dst, denoised, bits, metadata)
    if preview:
        side_by_side(preview, noisy, denoised, metadata)
    height, width = noisy.shape[-2:]
    return DenoiseResult(
        output=dst,
        preview=Path(preview) if preview else None,
        height=height,
        width=width,
        channels=3,
        cfa=None,
        network_cfa=None,
        bits=written,
        seconds=time.perf_counter() - started,
        denoised=denoised,
    )
