"""``pairs:DIR``: the user's own noisy/clean pairs, ``DIR/noisy/NAME`` with ``DIR/clean/NAME``.

Files are normalized .npy arrays (a raw mosaic H x W, or a stack N x H x W) or images (PNG, JPEG,
TIFF at 8 or 16 bit): an RGB image is an sRGB pair, a grey PNG/TIFF a raw mosaic in RGGB (a grey
JPEG is refused: lossy compression mixes the CFA sites). One folder holds one kind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .images import IMAGE_SUFFIXES, read_image, refuse_jpeg_mosaic
from .mat import read_array
from .samplers import BlockSet, CropSampler, PatchSampler, array_reader

__all__ = ["PAIR_SUFFIXES", "pairs_val", "pairs_train"]

PAIR_SUFFIXES = (".npy",) + IMAGE_SUFFIXES


def _pair_files(directory: str) -> list[tuple[Path, Path]]:
    root = Path(directory)
    noisy_dir, clean_dir = root / "noisy", root / "clean"
    if not noisy_dir.is_dir() or not clean_dir.is_dir():
        raise DataError(
            f"{root}: expected subfolders noisy/ and clean/ holding files of the same names "
            f"({', '.join(PAIR_SUFFIXES)})"
        )
    noisy = sorted(p for p in noisy_dir.iterdir() if p.suffix.lower() in PAIR_SUFFIXES)
    if not noisy:
        raise DataError(f"{noisy_dir}: no {', '.join(PAIR_SUFFIXES)} files")
    missing = [p.name for p in noisy if not (clean_dir / p.name).is_file()]
    if missing:
        raise DataError(f"{clean_dir}: no clean file for {', '.join(missing[:3])}")
    return [(p, clean_dir / p.name) for p in noisy]


def _read(path: Path) -> list[np.ndarray]:
    """The images of one file: an .npy may stack N mosaics."""
    if path.suffix.lower() != ".npy":
        image = read_image(path)[0]
        if image.ndim == 2:
            refuse_jpeg_mosaic(path)
        return [image]
    array = read_array(path)
    if array.ndim not in (2, 3):
        raise DataError(
            f"{path.name}: shape {array.shape}; "
            "an .npy pair is a 2-D (H, W) mosaic or 3-D (N, H, W) stack"
        )
    return list(array) if array.ndim == 3 else [array]


def _file_channels(image: np.ndarray) -> int:
    """What a pair file holds, by the shape it was read in: a mosaic (H x W) or a channel-first
    image (C x H x W). The one place the channels are read off a shape: the files decide."""
    return 1 if image.ndim == 2 else int(image.shape[0])


def _pair_arrays(directory: str) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    noisy_all, clean_all = [], []
    for noisy_path, clean_path in _pair_files(directory):
        noisy, clean = _read(noisy_path), _read(clean_path)
        if [a.shape for a in noisy] != [a.shape for a in clean]:
            raise DataError(
                f"{noisy_path.name}: noisy {noisy[0].shape} and clean {clean[0].shape} "
                "differ in shape"
            )
        noisy_all.extend(noisy)
        clean_all.extend(clean)
    kinds = {_file_channels(a) for a in noisy_all}
    if len(kinds) > 1:
        raise DataError(
            f"pairs:{directory}: mixes raw mosaics and RGB images; one folder holds one kind"
        )
    odd = next(
        (
            a.shape
            for a in noisy_all
            if _file_channels(a) == 1 and (a.shape[-2] % 2 or a.shape[-1] % 2)
        ),
        None,
    )
    if odd:
        raise DataError(
            f"pairs:{directory}: a {odd[-2]} x {odd[-1]} mosaic; a Bayer mosaic has even sides"
        )
    return noisy_all, clean_all, kinds.pop()


def pairs_val(directory: str, *_) -> BlockSet:
    noisy, clean, channels = _pair_arrays(directory)
    return BlockSet(noisy, clean, f"pairs:{directory}", channels)


def pairs_train(directory: str) -> PatchSampler:
    noisy, clean, channels = _pair_arrays(directory)
    pairs = [(array_reader(n), array_reader(c), n.shape[-2:]) for n, c in zip(noisy, clean)]
    if channels == 1:
        return CropSampler(pairs)
    return CropSampler(pairs, target=None, channels=channels)
