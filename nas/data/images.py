"""Reading and writing ordinary images (PNG, JPEG, TIFF; 8 or 16 bit) as normalized arrays.

Arrays are float32 in [0, 1]: colour images channel-first, 3 x H x W (the layout the networks
take), grey images H x W. Integer images are divided by their type's maximum (255 or 65535);
float TIFFs are taken as they are and must lie in [0, 1]. 16-bit PNGs go through pypng, since
Pillow (under imageio) truncates 16-bit colour PNGs to 8 bits; TIFFs through tifffile; 8-bit PNGs
and JPEGs through Pillow. :func:`read_image_metadata` and ``write_image(..., metadata=)`` carry a
photo's ICC colour profile and EXIF from input to output.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import DataError, first_line

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageMetadata",
    "is_image_file",
    "read_image",
    "read_image_metadata",
    "refuse_jpeg_mosaic",
    "write_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
ORIENTATION = 0x0112
EXIF_PREFIX = b"Exif\x00\x00"
JPEG_MAX_EXIF = 65533  # bytes in one JPEG segment
# what a TIFF's first IFD holds of EXIF: ImageDescription, Make, Model, Orientation, DateTime,
# Artist, Copyright, and the Exif and GPS sub-IFDs (the rest describes the TIFF's pixels, and
# Software names the program that wrote the TIFF)
TIFF_EXIF_TAGS = (0x010E, 0x010F, 0x0110, ORIENTATION, 0x0132, 0x013B, 0x8298, 0x8769, 0x8825)


@dataclass(frozen=True)
class ImageMetadata:
    """The colour profile and EXIF of a photo, to write back with its denoised pixels.

    ``icc`` is the ICC profile; ``exif`` the EXIF block as a JPEG's APP1 segment holds it
    (``Exif\\0\\0`` and a TIFF structure), its Orientation describing the pixels as
    :func:`read_image` returns them. Either is None where the file has none."""

    icc: bytes | None = None
    exif: bytes | None = None


GREY_MODES = ("1", "L", "LA", "I", "I;16")  # Pillow's grey modes: raw mosaics here, never rotated


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
        raise DataError(f"{path}: not a readable PNG ({first_line(err)})") from None
    if info["bitdepth"] != 16:  # an sBIT chunk: pypng rescales to the significant bits
        pixels = np.round(pixels * (65535 / (2 ** info["bitdepth"] - 1))).astype(np.uint16)
    planes = info["planes"]
    return pixels.reshape(height, width, planes) if planes > 1 else pixels.reshape(height, width)


def _is_tiff(path: Path) -> bool:
    return path.suffix.lower() in (".tif", ".tiff")


def _is_png16(path: Path) -> bool:
    return path.suffix.lower() == ".png" and _png_bit_depth(path) == 16


def _read_pixels(path: Path) -> np.ndarray:
    if _is_png16(path):
        return _read_png16(path)
    if _is_tiff(path):
        import tifffile

        try:
            return tifffile.imread(path)
        except (ValueError, OSError, tifffile.TiffFileError) as err:
            raise DataError(f"{path}: not a readable TIFF ({first_line(err)})") from None
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            if image.mode not in GREY_MODES:
                # a photo is read (and written) upright; a grey image is a mosaic, whose CFA
                # turning would change
                image = ImageOps.exif_transpose(image)
            if image.mode not in ("L", "LA", "RGB", "RGBA"):  # CMYK, YCbCr, palette, 1-bit
                image = image.convert(
                    "RGBA" if image.mode in ("P", "PA") else "L" if image.mode == "1" else "RGB"
                )
            return np.asarray(image)
    except Image.DecompressionBombError as err:
        raise DataError(f"{path}: {first_line(err)}") from None
    except (
        ValueError,
        OSError,
        SyntaxError,
        zlib.error,
    ) as err:  # PIL raises all of these for broken files
        raise DataError(
            f"{path}: not a readable {path.suffix[1:].upper()} image ({first_line(err)})"
        ) from None


def refuse_jpeg_mosaic(path: str | os.PathLike) -> None:
    """DataError if ``path`` is a JPEG, which cannot hold a raw mosaic: its lossy compression mixes
    neighbouring CFA sites. A grey JPEG is a black-and-white photo."""
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):
        raise DataError(
            f"{path}: a JPEG is lossy and cannot hold a raw mosaic "
            "(use a grey PNG/TIFF, .npy, .mat or a camera raw file)"
        )


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(float32 array in [0, 1], bits per sample: 8, 16 or 32 for float) of an image file. Colour
    images come back 3 x H x W (an alpha channel is dropped) and upright by their EXIF orientation
    (8-bit PNG, JPEG), grey ones H x W in stored order: here a grey image is a raw mosaic."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    if not is_image_file(path):
        raise DataError(f"{path}: expected an image file ({', '.join(IMAGE_SUFFIXES)})")
    pixels = _read_pixels(path)
    if pixels.ndim == 3 and pixels.shape[-1] == 2:  # grey + alpha
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        pixels = np.moveaxis(pixels[..., :3], -1, 0)  # RGB or RGBA
    elif pixels.ndim != 2:
        raise DataError(
            f"{path}: shape {pixels.shape}; expected a grey (H x W) or RGB (H x W x 3) image"
        )
    if pixels.dtype in (np.uint8, np.uint16):
        bits = 8 * pixels.dtype.itemsize
        return np.ascontiguousarray(pixels, np.float32) / np.float32(2**bits - 1), bits
    if np.issubdtype(pixels.dtype, np.floating):
        array = np.ascontiguousarray(pixels, np.float32)
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise DataError(f"{path}: floating-point pixels must be finite and in [0, 1]")
        return array, 32
    raise DataError(
        f"{path}: pixel type {pixels.dtype}; expected 8 or 16-bit integers or floats in [0, 1]"
    )


def write_image(
    path: str | os.PathLike, array: np.ndarray, bits: int = 8, metadata: ImageMetadata | None = None
) -> int:
    """Write a normalized array (3 x H x W or H x W, clipped to [0, 1]) as PNG, JPEG (8 bit,
    quality 95, no chroma subsampling) or TIFF, at ``bits`` 8 or 16 (JPEG: 8 only), atomically.
    ``metadata`` (from :func:`read_image_metadata`) adds an ICC profile (one for the pixels' colour
    space: RGB or grey) and EXIF; a TIFF gets the ICC profile only (its EXIF is left out), a JPEG no
    EXIF over 64 KiB. Returns the bits per sample written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise DataError(f"{path}: an image must be {', '.join(IMAGE_SUFFIXES)}")
    bits = 8 if suffix in (".jpg", ".jpeg") else (16 if bits > 8 else 8)
    if not (np.ndim(array) == 2 or (np.ndim(array) == 3 and np.shape(array)[0] == 3)):
        raise DataError(
            f"{path}: cannot store an array of shape {np.shape(array)} as an image "
            "(H x W or 3 x H x W)"
        )
    pixels = np.clip(np.asarray(array, np.float64), 0, 1)
    pixels = np.moveaxis(pixels, 0, -1) if pixels.ndim == 3 else pixels
    pixels = np.round(pixels * (2**bits - 1)).astype(np.uint8 if bits == 8 else np.uint16)
    metadata = _fitting(metadata or ImageMetadata(), pixels.ndim)
    with atomic_path(path) as tmp:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(
                tmp,
                pixels,
                photometric="rgb" if pixels.ndim == 3 else "minisblack",
                metadata=None,
                iccprofile=metadata.icc,
            )
        elif suffix == ".png" and bits == 16:
            _write_png16(tmp, pixels, metadata)
        else:
            _write_with_pillow(tmp, pixels, metadata)
    return bits


def _fitting(metadata: ImageMetadata, ndim: int) -> ImageMetadata:
    """Without an ICC profile for other pixels than these (a CMYK JPEG's, an RGB one on grey)."""
    space = metadata.icc[16:20] if metadata.icc else None  # the header's data colour space
    if space is None or space == (b"RGB " if ndim == 3 else b"GRAY"):
        return metadata
    return ImageMetadata(icc=None, exif=metadata.exif)


def _write_with_pillow(path: Path, pixels: np.ndarray, metadata: ImageMetadata) -> None:
    """An 8-bit PNG or JPEG (quality 95, no chroma subsampling)."""
    from PIL import Image

    params = {} if path.suffix.lower() == ".png" else {"quality": 95, "subsampling": 0}
    if metadata.icc:
        params["icc_profile"] = metadata.icc
    if metadata.exif and (path.suffix.lower() == ".png" or len(metadata.exif) <= JPEG_MAX_EXIF):
        params["exif"] = metadata.exif  # longer EXIF does not fit a JPEG: left out
    Image.fromarray(pixels).save(path, **params)


def _write_png16(path: Path, pixels: np.ndarray, metadata: ImageMetadata) -> None:
    """A 16-bit PNG through pypng, with iCCP and eXIf chunks before the image data."""
    import png

    buffer = io.BytesIO()
    mode = "RGB;16" if pixels.ndim == 3 else "L;16"
    png.from_array(pixels.reshape(pixels.shape[0], -1), mode=mode).write(buffer)
    extra = []
    if metadata.icc:  # profile name, null, compression method 0, the zlib stream
        extra.append((b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(metadata.icc)))
    if metadata.exif:  # the TIFF structure, without the JPEG segment's Exif\0\0
        exif = metadata.exif
        extra.append((b"eXIf", exif[len(EXIF_PREFIX) :] if exif.startswith(EXIF_PREFIX) else exif))
    chunks = list(png.Reader(bytes=buffer.getvalue()).chunks())
    with open(path, "wb") as handle:
        png.write_chunks(handle, chunks[:1] + extra + chunks[1:])  # right after IHDR


def read_image_metadata(path: str | os.PathLike) -> ImageMetadata:
    """The ICC profile and EXIF of a PNG, JPEG or TIFF. Where :func:`read_image` turned the pixels
    upright (8-bit PNG, JPEG), the EXIF's Orientation is reset to 1, so that viewers do not turn
    the output a second time; 16-bit PNGs and TIFFs are read in stored order and keep theirs. A
    part that is missing or cannot be read is None: the pixels matter more than their metadata."""
    path = Path(path)
    return ImageMetadata(icc=_best_effort(_read_icc, path), exif=_best_effort(_read_exif, path))


def _best_effort(reader, path: Path) -> bytes | None:
    try:
        return reader(path) or None
    except Exception:  # broken or exotic metadata in a file whose pixels were read: go without it
        return None


def _read_icc(path: Path) -> bytes | None:
    if _is_tiff(path):  # tifffile: Pillow cannot open every 16-bit or float TIFF
        import tifffile

        with tifffile.TiffFile(path) as tiff:
            tag = tiff.pages[0].tags.get(34675)
            return bytes(tag.value) if tag is not None else None
    from PIL import Image

    with Image.open(path) as image:
        return image.info.get("icc_profile")


def _read_exif(path: Path) -> bytes | None:
    from PIL import Image

    with Image.open(path) as image:
        exif = image.getexif()
        if _is_tiff(path):  # the TIFF's own tags (size, strips, ...) are no EXIF of the output's
            kept = Image.Exif()
            for tag in TIFF_EXIF_TAGS:
                if tag in exif:
                    kept[tag] = exif.get_ifd(tag) if tag in (0x8769, 0x8825) else exif[tag]
            exif = kept
        elif (
            ORIENTATION in exif and not _is_png16(path) and image.mode not in GREY_MODES
        ):  # read_image applied it
            exif[ORIENTATION] = 1
        return exif.tobytes() if len(exif) else None
