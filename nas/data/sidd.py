"""The Smartphone Image Denoising Dataset (SIDD) in its published layouts, raw and sRGB.

Raw: ``sidd-val`` / ``siddplus-val`` validation blocks (.mat) and ``sidd-medium`` training pairs
(v7.3 .mat mosaics in each phone's CFA pattern, unified to RGGB as they are cropped). sRGB:
``sidd-srgb-val`` blocks (uint8 .mat) and ``sidd-medium-srgb`` training pairs (8-bit PNGs,
decoded once into a memory-mapped cache).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_path
from ..errors import DataError
from .images import read_image
from .mat import open_mat_lazy, read_array
from .samplers import BlockSet, CropSampler, PatchSampler

__all__ = [
    "SIDD_PHONE_PATTERNS",
    "sidd_phone_pattern",
    "sidd_val",
    "siddplus_val",
    "sidd_medium_train",
    "sidd_srgb_val",
    "sidd_medium_srgb_train",
]

# SIDD's phones (the third field of a scene folder name, e.g. 0001_001_S6_00100_00060_3200_L)
# and their CFA patterns, as Liu et al. 2019 list them.
SIDD_PHONE_PATTERNS = {"GP": "BGGR", "IP": "RGGB", "S6": "GRBG", "N6": "BGGR", "G4": "BGGR"}


def _blocks(directory: str, noisy_stem: str, clean_stem: str, shape: tuple, label: str) -> BlockSet:
    """Block files of ``shape``; sRGB shapes end in 3 (channels) and hold uint8."""
    root, srgb = Path(directory), shape[-1] == 3
    arrays = []
    for stem in (noisy_stem, clean_stem):
        array = read_array(root / f"{stem}.mat", key=stem, integers=srgb)
        sides = array.shape[-3:-1] if srgb else array.shape[-2:]
        # The official files are exactly ``shape``; any count of blocks is accepted so subsets
        # and synthetic stand-ins in the same layout load too.
        if array.ndim != len(shape) or any(s % 2 for s in sides) or (srgb and array.shape[-1] != 3):
            raise DataError(
                f"{root / stem}.mat: {stem} has shape {array.shape}, expected {shape} "
                f"({len(shape)}-D, even block sides{', 3 channels last' if srgb else ''})"
            )
        if srgb:
            array = np.moveaxis(array.reshape(-1, *array.shape[-3:]), -1, 1)
        arrays.append(np.ascontiguousarray(array.reshape(-1, *array.shape[-3 if srgb else -2 :])))
    return BlockSet(arrays[0], arrays[1], f"{label}:{directory}", channels=3 if srgb else 1)


def sidd_val(directory: str, *_) -> BlockSet:
    return _blocks(
        directory,
        "ValidationNoisyBlocksRaw",
        "ValidationGtBlocksRaw",
        (40, 32, 256, 256),
        "sidd-val",
    )


def siddplus_val(directory: str, *_) -> BlockSet:
    return _blocks(
        directory,
        "siddplus_valid_noisy_raw",
        "siddplus_valid_gt_raw",
        (1024, 256, 256),
        "siddplus-val",
    )


def sidd_srgb_val(directory: str, *_) -> BlockSet:
    return _blocks(
        directory,
        "ValidationNoisyBlocksSrgb",
        "ValidationGtBlocksSrgb",
        (40, 32, 256, 256, 3),
        "sidd-srgb-val",
    )


def sidd_phone_pattern(scene_folder: str) -> str:
    """The CFA pattern of a SIDD scene folder, from its phone code (the third ``_`` field)."""
    fields = scene_folder.split("_")
    phone = fields[2].upper() if len(fields) > 2 else ""
    if phone not in SIDD_PHONE_PATTERNS:
        raise DataError(
            f"{scene_folder}: no known SIDD phone code in the folder name (third field; known: "
            f"{', '.join(f'{k} {v}' for k, v in SIDD_PHONE_PATTERNS.items())})"
        )
    return SIDD_PHONE_PATTERNS[phone]


def _h5_reader(dataset) -> Callable:
    # v7.3 stores the transpose: MATLAB row y is HDF5 column y.
    return lambda y, x, size: dataset[x : x + size, y : y + size].T


def _scene_files(root: Path, tag: str, suffix: str) -> list[tuple[Path, Path]]:
    """(noisy, ground truth) file pairs named ``*NOISY_<tag>_*<suffix>`` /
    ``*GT_<tag>_*<suffix>``."""
    noisy_files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and f"NOISY_{tag}" in p.name.upper() and p.suffix.lower() == suffix
    )
    if not noisy_files:
        raise DataError(
            f"{root}: no *NOISY_{tag}_*{suffix.upper()} files (SIDD-Medium {tag.lower()} layout)"
        )
    pairs = []
    for noisy in noisy_files:
        clean = noisy.with_name(noisy.name.replace("NOISY", "GT").replace("noisy", "gt"))
        if not clean.is_file():
            raise DataError(f"{noisy}: no ground truth {clean.name} beside it")
        pairs.append((noisy, clean))
    return pairs


def sidd_medium_train(directory: str) -> PatchSampler:
    pairs, handles = [], []
    for noisy_path, clean_path in _scene_files(Path(directory), "RAW", ".mat"):
        fn, noisy = open_mat_lazy(noisy_path, "x")
        fc, clean = open_mat_lazy(clean_path, "x")
        handles += [fn, fc]
        if noisy.shape != clean.shape or len(noisy.shape) != 2:
            raise DataError(
                f"{noisy_path.name}: noisy {noisy.shape} and clean {clean.shape} "
                "must be equal 2-D mosaics"
            )
        pattern = sidd_phone_pattern(noisy_path.parent.name)
        pairs.append((_h5_reader(noisy), _h5_reader(clean), noisy.shape[::-1], pattern))
    sampler = CropSampler(pairs)  # unifies every phone's pattern to RGGB
    sampler.handles = handles  # keep the files open for the sampler's lifetime
    return sampler


def cache_folder() -> Path:
    """Where decoded images are kept: ``$MWNAS_CACHE``, else ``$XDG_CACHE_HOME/mwnas``, else
    ``~/.cache/mwnas``."""
    if os.environ.get("MWNAS_CACHE"):
        return Path(os.environ["MWNAS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mwnas"


class _DecodedPng:
    """Crops of a PNG without decoding it each time: the first crop decodes it once into an
    uint8 .npy in :func:`cache_folder` (keyed by the file's path, size and time), and every crop
    after that reads only its window through a memory map: decoding a SIDD-Medium image costs
    far more than reading a cached crop."""

    def __init__(self, path: Path) -> None:
        stat = path.stat()
        key = hashlib.sha256(
            f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()
        ).hexdigest()[:24]
        self.path, self.cached, self.pixels = path, cache_folder() / "png" / f"{key}.npy", None

    def __call__(self, y: int, x: int, size: int) -> np.ndarray:
        if self.pixels is None:
            if not self.cached.is_file():
                self.cached.parent.mkdir(parents=True, exist_ok=True)
                image, _ = read_image(self.path)
                with atomic_path(self.cached) as tmp:
                    np.save(tmp, np.round(np.moveaxis(image, 0, -1) * 255).astype(np.uint8))
            self.pixels = np.load(self.cached, mmap_mode="r", allow_pickle=False)
        return np.moveaxis(self.pixels[y : y + size, x : x + size], -1, 0).astype(
            np.float32
        ) / np.float32(255)


def _png_header(path: Path) -> tuple[int, int, int]:
    """(height, width, colour type) from a PNG's header, without decoding it."""
    with open(path, "rb") as handle:
        header = handle.read(26)
    if header[:8] != b"\x89PNG\r\n\x1a\n" or len(header) < 26:
        raise DataError(f"{path}: not a PNG file")
    return int.from_bytes(header[20:24], "big"), int.from_bytes(header[16:20], "big"), header[25]


def _rgb_png_size(path: Path) -> tuple[int, int]:
    height, width, colour = _png_header(path)
    if colour not in (2, 3, 6):  # RGB, palette, RGBA
        raise DataError(f"{path}: a grey PNG; sidd-medium-srgb needs RGB images")
    return height, width


def sidd_medium_srgb_train(directory: str) -> PatchSampler:
    pairs = []
    for noisy_path, clean_path in _scene_files(Path(directory), "SRGB", ".png"):
        size = _rgb_png_size(noisy_path)
        if _rgb_png_size(clean_path) != size:
            raise DataError(
                f"{noisy_path.name}: noisy {size} and ground truth "
                f"{_rgb_png_size(clean_path)} differ in size"
            )
        pairs.append((_DecodedPng(noisy_path), _DecodedPng(clean_path), size))
    return CropSampler(pairs, target=None, channels=3)
