"""Small labelled mosaics for the Bayer tests: each pixel's integer part names its colour."""

import numpy as np

CODES = {"R": 0, "G": 1, "B": 2}


def colour_mosaic(pattern: str, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A ``pattern`` mosaic whose value at each pixel is its colour code (R 0, G 1, B 2) plus a
    unique fraction below 0.5, so both colour and position can be read back."""
    cell = np.array([CODES[c] for c in pattern], np.float32).reshape(2, 2)
    codes = np.tile(cell, ((height + 1) // 2, (width + 1) // 2))[:height, :width]
    unique = np.random.default_rng(seed).permutation(height * width).reshape(height, width) / (
        2.0 * height * width
    )
    return (codes + unique).astype(np.float32)


def pattern_of(mosaic) -> str:
    """The pattern that a colour mosaic's top-left 2 x 2 cell shows, checked over the whole
    mosaic."""
    codes = np.floor(np.asarray(mosaic)).astype(int)
    names = {v: k for k, v in CODES.items()}
    cell = codes[..., :2, :2]
    h, w = codes.shape[-2:]
    tiled = np.tile(cell, (1,) * (codes.ndim - 2) + ((h + 1) // 2, (w + 1) // 2))[..., :h, :w]
    assert np.array_equal(codes, tiled), "not a periodic 2 x 2 mosaic"
    flat = cell.reshape(-1, 4)
    assert (flat == flat[0]).all(), "mosaics of a batch differ in pattern"
    return "".join(names[c] for c in flat[0])
