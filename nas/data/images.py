"""Reading and writing ordinary images (PNG, JPEG, TIFF; 8 or 16 bit) as normalized arrays.

Arrays are float32 in [0, 1]: colour images channel-first, 3 x H x W (the layout the networks
take), grey images H x W. Integer images are divided by their type's maximum (255 or 65535);
float TIFFs are taken as they are and must lie in [0, 1]. 16-bit PNGs go through pypng, since
Pillow (under imageio) truncates 16-bit colour PNGs to 8 bits; everything else through imageio
and tifffile.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .mat import DataError

__all__ = ["IMAGE_SUFFIXES", "is_image_file", "read_image", "write_image"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as handle:
        header = handle.read(25)
    if header[:8] != b"\x89PNG\r\n\x1a\n" or len(header) < 25:
        raise DataError(f"{path}: not a PNG file")
    return header[24]


def _read_png16(path: Path) -> np.ndarray:
    """A 16-bit PNG through pypng (Pillow, under imageio, truncates 16-bit colour to 8 bits)."""
    import png
    try:
        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        pixels = np.vstack([np.asarray(row, np.uint16) for row in rows])
    except (png.Error, zlib.error, ValueError) as err:
        raise DataError(f"{path}: not a readable PNG ({_first_line(err)})") from None
    if info["bitdepth"] != 16:   # an sBIT chunk: pypng rescales to the significant bits
        pixels = np.round(pixels * (65535 / (2 ** info["bitdepth"] - 1))).astype(np.uint16)
    planes = info["planes"]
    return pixels.reshape(height, width, planes) if planes > 1 else pixels.reshape(height, width)


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0].strip() if str(err).strip() else type(err).__name__


def _read_pixels(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".png" and _png_bit_depth(path) == 16:
        return _read_png16(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile
        try:
            return tifffile.imread(path)
        except (ValueError, OSError, tifffile.TiffFileError) as err:
            raise DataError(f"{path}: not a readable TIFF ({_first_line(err)})") from None
    import imageio.v3 as iio
    try:
        # rotate: apply the EXIF orientation, so a portrait phone photo is read (and written) upright
        return iio.imread(path, plugin="pillow", rotate=True)
    except (ValueError, OSError, SyntaxError, zlib.error) as err:   # PIL raises all of these for broken files
        raise DataError(f"{path}: not a readable {path.suffix[1:].upper()} image ({_first_line(err)})") from None


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(float32 array in [0, 1], bits per sample: 8, 16 or 32 for float) of an image file. Colour
    images come back 3 x H x W (an alpha channel is dropped), grey ones H x W."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    if not is_image_file(path):
        raise DataError(f"{path}: expected an image file ({', '.join(IMAGE_SUFFIXES)})")
    pixels = _read_pixels(path)
    if pixels.ndim == 3 and pixels.shape[-1] == 2:                # grey + alpha
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        pixels = np.moveaxis(pixels[..., :3], -1, 0)   # RGB or RGBA (Pillow gives CMYK JPEGs as RGB)
    elif pixels.ndim != 2:
        raise DataError(f"{path}: shape {pixels.shape}; expected a grey (H x W) or RGB (H x W x 3) image")
    if pixels.dtype in (np.uint8, np.uint16):
        bits = 8 * pixels.dtype.itemsize
        return np.ascontiguousarray(pixels, np.float32) / np.float32(2 ** bits - 1), bits
    if np.issubdtype(pixels.dtype, np.floating):
        array = np.ascontiguousarray(pixels, np.float32)
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise DataError(f"{path}: floating-point pixels must be finite and in [0, 1]")
        return array, 32
    raise DataError(f"{path}: pixel type {pixels.dtype}; expected 8 or 16-bit integers or floats in [0, 1]")


def write_image(path: str | os.PathLike, array: np.ndarray, bits: int = 8) -> int:
    """Write a normalized array (3 x H x W or H x W, clipped to [0, 1]) as PNG, JPEG (8 bit,
    quality 95, no chroma subsampling) or TIFF, at ``bits`` 8 or 16 (JPEG: 8 only), atomically.
    Returns the bits per sample written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise DataError(f"{path}: an image must be {', '.join(IMAGE_SUFFIXES)}")
    bits = 8 if suffix in (".jpg", ".jpeg") else (16 if bits > 8 else 8)
    if not (np.ndim(array) == 2 or (np.ndim(array) == 3 and np.shape(array)[0] == 3)):
        raise DataError(f"{path}: cannot store an array of shape {np.shape(array)} as an image (H x W or 3 x H x W)")
    pixels = np.clip(np.asarray(array, np.float64), 0, 1)
    pixels = np.moveaxis(pixels, 0, -1) if pixels.ndim == 3 else pixels
    pixels = np.round(pixels * (2 ** bits - 1)).astype(np.uint8 if bits == 8 else np.uint16)
    with atomic_path(path) as tmp:
        if suffix in (".tif", ".tiff"):
            import tifffile
            tifffile.imwrite(tmp, pixels, photometric="rgb" if pixels.ndim == 3 else "minisblack", metadata=None)
        elif suffix == ".png" and bits == 16:
            import png
            mode = "RGB;16" if pixels.ndim == 3 else "L;16"
            png.from_array(pixels.reshape(pixels.shape[0], -1), mode=mode).save(str(tmp))
        else:
            import imageio.v3 as iio
            iio.imwrite(tmp, pixels, **({"quality": 95, "subsampling": 0} if suffix != ".png" else {}))
    return bits
