"""Camera raw files in, DNG out.

:func:`read_raw` reads a DNG or any other raw format LibRaw supports (through ``rawpy``): the
visible Bayer mosaic, minus the black level of each CFA site, divided by white minus black, so
it is in [0, 1] (noise may go below 0), with the CFA pattern and the metadata a raw developer
needs. :func:`write_dng` writes a mosaic back as an uncompressed 16-bit CFA DNG (through
``tifffile``) with that metadata: pattern, black and white levels, colour matrices, as-shot
neutral, orientation, noise profile and, for a DNG source, its other camera and profile tags.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import DataError, first_line
from .bayer import DEFAULT_PATTERN, PATTERNS, PatternError, parse_pattern, pattern_offset
from .images import is_image_file, read_image, refuse_jpeg_mosaic
from .mat import ARRAY_SUFFIXES, read_array

__all__ = [
    "RawMetadata",
    "RawImage",
    "read_raw",
    "read_mosaic",
    "write_dng",
    "dng_bytes",
    "raw_from_array",
    "check_mosaic",
    "is_array_file",
    "raw_crops",
    "MIN_DNG_SIDE",
]

# XYZ (D65) -> linear sRGB: the colour matrix of a "camera" whose raw RGB is linear sRGB.
_XYZ_TO_SRGB = (
    3.2404542,
    -1.5371385,
    -0.4985314,
    -0.9692660,
    1.8760108,
    0.0415560,
    0.0556434,
    -0.2040259,
    1.0572252,
)
_D65 = 21  # EXIF LightSource code of CalibrationIlluminant
MIN_DNG_SIDE = 22  # LibRaw (and raw developers built on it) refuse raws with a smaller side
# LibRaw's "flip" code -> TIFF/EXIF Orientation (LibRaw maps Orientation o to "50132467"[o]).
_FLIP_TO_ORIENTATION = {0: 1, 1: 2, 3: 3, 2: 4, 4: 5, 6: 6, 7: 7, 5: 8}
_TYPE_RATIONAL, _TYPE_SRATIONAL = 5, 10
_CFA_CODES = {"R": 0, "G": 1, "B": 2}
# Tags of a source DNG's first IFD that describe the camera and its colour, copied verbatim.
_COPIED_DNG_TAGS = (
    271,
    272,
    306,
    315,
    33432,
    50708,
    50709,
    50721,
    50722,
    50723,
    50724,
    50725,
    50726,
    50727,
    50728,
    50729,
    50730,
    50731,
    50732,
    50734,
    50735,
    50778,
    50779,
    50931,
    50932,
    50936,
    50941,
    50942,
    50964,
    50965,
    51041,
)


@dataclass(frozen=True)
class RawMetadata:
    """What a raw developer needs besides the mosaic and its levels.

    ``color_matrix`` is DNG's ColorMatrix1 (XYZ -> camera, row-major 3 x 3) under
    ``calibration_illuminant``; ``as_shot_neutral`` the camera-space white (None: unknown);
    ``orientation`` the TIFF code (1: as stored); ``noise_profile`` DNG's NoiseProfile, pairs
    (shot, read) such that the variance of a normalized value x is shot * x + read, one pair for
    all colour planes or one per plane (R, G, B); ``dng_tags`` further tags of a source DNG as
    (code, TIFF type, count, value), written back unchanged."""

    make: str = ""
    model: str = ""
    color_matrix: tuple[float, ...] = _XYZ_TO_SRGB
    calibration_illuminant: int = _D65
    as_shot_neutral: tuple[float, float, float] | None = None
    orientation: int = 1
    noise_profile: tuple[float, ...] | None = None
    dng_tags: tuple[tuple[int, int, int, object], ...] = ()


@dataclass(frozen=True)
class RawImage:
    """One Bayer mosaic, normalized: ``(raw - black) / (white - black)`` per CFA site, float32.
    ``black_levels`` are per site of the 2 x 2 CFA cell in reading order (as DNG's BlackLevel
    with BlackLevelRepeatDim 2 x 2)."""

    mosaic: np.ndarray
    cfa: str
    black_levels: tuple[float, float, float, float]
    white_level: float
    metadata: RawMetadata = field(default_factory=RawMetadata)
    source: str = ""

    def raw_values(self, mosaic: np.ndarray | None = None) -> np.ndarray:
        """``mosaic`` (default: this image's) back in the file's integer units, as uint16."""
        mosaic = self.mosaic if mosaic is None else mosaic
        out = np.empty(mosaic.shape, np.uint16)
        for (i, j), black in zip(
            _SITES, self.black_levels
        ):  # one CFA site at a time: little memory
            raw = np.rint(
                mosaic[i::2, j::2].astype(np.float64) * (self.white_level - black) + black
            )
            out[i::2, j::2] = np.clip(raw, 0, min(self.white_level, 65535))
        return out


_SITES = ((0, 0), (0, 1), (1, 0), (1, 1))  # the 2 x 2 CFA cell in reading order


def raw_from_array(mosaic: np.ndarray, cfa: str = DEFAULT_PATTERN, source: str = "") -> RawImage:
    """A :class:`RawImage` for a normalized mosaic from a .npy/.mat file: black 0, white 65535
    (16-bit), and a colour matrix that treats the camera's RGB as linear sRGB."""
    check_mosaic(mosaic, source or "mosaic")
    return RawImage(
        np.asarray(mosaic, np.float32),
        parse_pattern(cfa),
        (0.0,) * 4,
        65535.0,
        RawMetadata(),
        source,
    )


def check_mosaic(mosaic: np.ndarray, name: str) -> None:
    """DataError unless ``mosaic`` is a 2-D array with even sides (whole 2 x 2 CFA cells)."""
    if mosaic.ndim != 2:
        raise DataError(f"{name}: expected a 2-D mosaic, found shape {mosaic.shape}")
    if mosaic.shape[0] % 2 or mosaic.shape[1] % 2:
        raise DataError(
            f"{name}: a Bayer mosaic has even sides (whole 2 x 2 CFA cells), found "
            f"{mosaic.shape[0]} x {mosaic.shape[1]}"
        )


def is_array_file(path: str | os.PathLike) -> bool:
    """True for the array formats (.npy, .mat, .tif/.tiff) as opposed to camera raw files."""
    return Path(path).suffix.lower() in ARRAY_SUFFIXES


def read_mosaic(
    path: str | os.PathLike,
    key: str | None = None,
    cfa: str | None = None,
    default_cfa: str = DEFAULT_PATTERN,
) -> RawImage:
    """A camera raw file through :func:`read_raw`, or a normalized mosaic in pattern ``cfa``
    (``default_cfa`` if None): an .npy/.mat array (``key``: the array's name in a .mat) or, as in
    ``pairs:DIR``, a grey image (PNG/TIFF, 8 or 16 bit divided by the type's maximum, or float).
    A raw file records its own pattern, so ``cfa`` must not be given for one."""
    if Path(path).suffix.lower() in (".npy", ".mat"):
        return raw_from_array(read_array(path, key), cfa or default_cfa, str(path))
    if is_image_file(path):
        refuse_jpeg_mosaic(path)
        pixels, _ = read_image(path)
        if pixels.ndim != 2:
            raise DataError(
                f"{path}: an RGB image, not a raw mosaic "
                "(a grey image, .npy, .mat or camera raw file)"
            )
        return raw_from_array(pixels, cfa or default_cfa, str(path))
    if cfa is not None:
        raise DataError(
            f"{path}: a raw file records its CFA pattern; "
            "a pattern (--cfa) is for .npy/.mat or grey image mosaics"
        )
    return read_raw(path)


def read_raw(path: str | os.PathLike) -> RawImage:
    """The normalized Bayer mosaic, pattern, levels and metadata of a camera raw file.

    DataError (one line) for a missing or unreadable file or a mosaic with an odd side, and
    PatternError for a raw that is not a 2 x 2 Bayer mosaic (X-Trans, a linear or demosaiced DNG,
    a CYGM sensor)."""
    import rawpy

    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        with rawpy.imread(str(path)) as raw:
            cfa, colors = _bayer_pattern(raw, path)
            values = raw.raw_image_visible  # LibRaw's buffer: used before closing
            check_mosaic(values, str(path))
            black = np.asarray(raw.black_level_per_channel, np.float64)[colors].reshape(-1)
            white = float(raw.white_level)
            if not np.all(white > black):
                raise DataError(
                    f"{path}: white level {white:g} is not above the black levels {black.tolist()}"
                )
            mosaic = np.empty(values.shape, np.float32)
            for (i, j), level in zip(_SITES, black):
                mosaic[i::2, j::2] = (values[i::2, j::2].astype(np.float32) - level) / (
                    white - level
                )
            rawpy_metadata = _rawpy_metadata(raw)
    except rawpy.LibRawError as err:
        raise DataError(f"{path}: not a raw file LibRaw can read ({first_line(err)})") from None
    metadata = _dng_metadata(path, rawpy_metadata)
    return RawImage(mosaic, cfa, tuple(float(b) for b in black), white, metadata, str(path))


def _bayer_pattern(raw, path: Path) -> tuple[str, np.ndarray]:
    """(pattern name, 2 x 2 LibRaw colour indices) of an opened raw; PatternError if not Bayer."""
    import rawpy

    pattern_shape = None if raw.raw_pattern is None else raw.raw_pattern.shape
    if raw.raw_type != rawpy.RawType.Flat or pattern_shape != (2, 2):
        kind = (
            "X-Trans (6 x 6 CFA)"
            if pattern_shape == (6, 6)
            else "linear (demosaiced)"
            if raw.raw_type != rawpy.RawType.Flat
            else f"{pattern_shape} CFA"
        )
        raise PatternError(
            f"{path}: a {kind} raw, not a 2 x 2 Bayer mosaic; only Bayer sensors are supported"
        )
    colors = np.asarray(raw.raw_colors_visible[:2, :2])
    desc = raw.color_desc.decode("ascii", "replace")
    cfa = "".join(desc[c] for c in colors.reshape(-1))
    if cfa not in PATTERNS:
        raise PatternError(
            f"{path}: CFA pattern {cfa} is not a Bayer pattern ({', '.join(PATTERNS)})"
        )
    return cfa, colors


def raw_crops(
    directory: str | os.PathLike,
    num_blocks: int,
    block_size: int,
    seed: int = 0,
    target: str = DEFAULT_PATTERN,
) -> np.ndarray:
    """``num_blocks`` fixed crops (float32 N x S x S, normalized, unified to ``target``) of the
    readable Bayer raw files under ``directory``, spread evenly over the files, at positions
    drawn from ``seed``. Files LibRaw cannot read as Bayer raws are skipped; DataError if none is
    left. Each file is read once, so memory holds one photo at a time."""
    files = [
        p
        for p in sorted(Path(directory).rglob("*"))
        if p.is_file() and not p.name.startswith(".") and not is_array_file(p)
    ]
    readable, skipped = [], []
    for path in files:
        try:
            readable.append((path, _raw_size(path)))
        except DataError as err:
            skipped.append(str(err))
    if not readable:
        reason = f" (e.g. {skipped[0]})" if skipped else ""
        raise DataError(f"{directory}: no readable Bayer raw files{reason}")
    small = [f"{p.name} ({h} x {w})" for p, (h, w) in readable if min(h, w) < block_size + 2]
    if small:
        raise DataError(
            f"{directory}: crops of {block_size} need raws of at least {block_size + 2} px a side: "
            + ", ".join(small[:3])
        )
    rng = np.random.default_rng(seed)
    crops = []
    for index, (path, (h, w)) in enumerate(readable):
        count = len(range(index, num_blocks, len(readable)))
        if count == 0:
            continue
        image = read_raw(path)
        for _ in range(count):
            y = 2 * int(rng.integers(0, (h - block_size - 2) // 2 + 1))
            x = 2 * int(rng.integers(0, (w - block_size - 2) // 2 + 1))
            dy, dx = pattern_offset(image.cfa, target)
            crops.append(image.mosaic[y + dy : y + dy + block_size, x + dx : x + dx + block_size])
    return np.stack(crops).astype(np.float32)


def _raw_size(path: Path) -> tuple[int, int]:
    """(height, width) of a Bayer raw without decoding it; DataError/PatternError if unusable."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            _bayer_pattern(raw, path)
            height, width = int(raw.sizes.height), int(raw.sizes.width)
    except rawpy.LibRawError as err:
        raise DataError(f"{path}: not a raw file LibRaw can read ({first_line(err)})") from None
    if height % 2 or width % 2:
        raise DataError(f"{path}: odd sides ({height} x {width})")
    return height, width


def _rawpy_metadata(raw) -> RawMetadata:
    """What LibRaw knows: colour matrix (its Adobe table, XYZ -> camera), white balance,
    orientation."""
    cam_xyz = np.asarray(raw.rgb_xyz_matrix, np.float64)[:3]
    multipliers = np.asarray(raw.camera_whitebalance, np.float64)[:3]
    neutral = (
        tuple(float(multipliers[1] / m) for m in multipliers) if np.all(multipliers > 0) else None
    )
    return RawMetadata(
        color_matrix=tuple(cam_xyz.reshape(-1).tolist()) if np.any(cam_xyz) else _XYZ_TO_SRGB,
        as_shot_neutral=neutral,
        orientation=_FLIP_TO_ORIENTATION.get(int(raw.sizes.flip), 1),
    )


def _dng_metadata(path: Path, fallback: RawMetadata) -> RawMetadata:
    """The source's own tags where it is a TIFF-based raw: every colour and camera tag of a DNG
    (kept verbatim), Make and Model of the others; LibRaw's values for everything else."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            ifd0 = tif.pages[0].tags
            tags = {t.code: t for t in ifd0.values()}
            for sub in getattr(tif.pages[0], "pages", None) or []:  # the raw IFD of a camera DNG
                if 51041 in sub.tags and 51041 not in tags:  # NoiseProfile may sit there
                    tags[51041] = sub.tags[51041]
            is_dng = 50706 in tags
            copied = tuple(
                _copied_tag(tags[code])
                for code in _COPIED_DNG_TAGS
                if code in tags and (is_dng or code in (271, 272))
            )
    except Exception:  # not TIFF-based (CRW, RAF, ...): LibRaw's metadata is all there is
        return fallback
    values = {code: value for code, _, _, value in copied}

    def text(code):
        return str(values.get(code, "")).strip("\0 ")

    neutral = _rationals(values[50728]) if 50728 in values else fallback.as_shot_neutral
    matrix = _rationals(values[50721]) if 50721 in values else fallback.color_matrix
    noise = tuple(float(v) for v in np.ravel(values[51041])) if 51041 in values else None
    return RawMetadata(
        make=text(271),
        model=text(272),
        color_matrix=tuple(matrix),
        calibration_illuminant=int(np.ravel(values.get(50778, fallback.calibration_illuminant))[0]),
        as_shot_neutral=tuple(neutral) if neutral is not None else None,
        orientation=fallback.orientation,
        noise_profile=noise,
        dng_tags=copied,
    )


def _copied_tag(tag) -> tuple[int, int, int, object]:
    """(code, TIFF type, count, value) of a tifffile tag, as plain Python for writing back."""
    value = tag.value
    if isinstance(value, (tuple, list, np.ndarray)):
        value = tuple(np.ravel(value).tolist())
    elif isinstance(value, int):  # enums (e.g. the illuminant) to plain int
        value = int(value)
    return int(tag.code), int(tag.dtype), 0 if int(tag.dtype) == 2 else int(tag.count), value


def _rationals(flat) -> tuple[float, ...]:
    pairs = np.asarray(flat, np.float64).reshape(-1, 2)
    return tuple((pairs[:, 0] / pairs[:, 1]).tolist())


def _to_rationals(values, denominator: int = 1_000_000) -> tuple[int, ...]:
    out = []
    for v in values:
        out += [int(round(float(v) * denominator)), denominator]
    return tuple(out)


def _dng_tags(image: RawImage) -> list[tuple]:
    """The tags of the CFA IFD (tifffile ``extratags``): computed ones, then the source's
    verbatim."""
    meta, black = image.metadata, image.black_levels
    integral = all(float(b).is_integer() for b in black)
    tags = {
        33421: ("H", 2, (2, 2)),  # CFARepeatPatternDim
        33422: ("B", 4, bytes(_CFA_CODES[c] for c in image.cfa)),  # CFAPattern
        50706: ("B", 4, (1, 4, 0, 0)),  # DNGVersion
        50707: ("B", 4, (1, 1, 0, 0)),  # DNGBackwardVersion
        50708: (
            "s",
            0,
            " ".join(p for p in (meta.make, meta.model) if p) or "mwnas",
        ),  # UniqueCameraModel
        50710: ("B", 3, (0, 1, 2)),  # CFAPlaneColor
        50711: ("H", 1, 1),  # CFALayout: rectangular
        50713: ("H", 2, (2, 2)),  # BlackLevelRepeatDim
        50714: ("I", 4, tuple(int(b) for b in black))
        if integral
        else (_TYPE_RATIONAL, 4, _to_rationals(black)),
        50717: ("I", 1, int(round(image.white_level))),  # WhiteLevel
        50721: (_TYPE_SRATIONAL, 9, _to_rationals(meta.color_matrix)),  # ColorMatrix1
        50778: ("H", 1, int(meta.calibration_illuminant)),  # CalibrationIlluminant1
        274: ("H", 1, int(meta.orientation)),  # Orientation
    }
    if meta.make:
        tags[271] = ("s", 0, meta.make)
    if meta.model:
        tags[272] = ("s", 0, meta.model)
    if meta.as_shot_neutral is not None:
        tags[50728] = (_TYPE_RATIONAL, 3, _to_rationals(meta.as_shot_neutral))
    if meta.noise_profile is not None:
        tags[51041] = ("d", len(meta.noise_profile), tuple(meta.noise_profile))
    for code, dtype, count, value in meta.dng_tags:
        tags[code] = (dtype, count, value)
    return [
        (code, dtype, count, value, True) for code, (dtype, count, value) in sorted(tags.items())
    ]


def _write(target, mosaic: np.ndarray, like: RawImage) -> None:
    import tifffile

    check_mosaic(mosaic, "denoised mosaic")
    if min(mosaic.shape) < MIN_DNG_SIDE:
        raise DataError(
            f"a DNG needs sides of at least {MIN_DNG_SIDE} pixels (LibRaw refuses smaller raws), "
            f"got {mosaic.shape[0]} x {mosaic.shape[1]}"
        )
    tifffile.imwrite(
        target,
        like.raw_values(mosaic),
        photometric="cfa",
        extratags=_dng_tags(like),
        metadata=None,
        software="mwnas",
        subfiletype=0,
    )


def write_dng(path: str | os.PathLike, mosaic: np.ndarray, like: RawImage) -> None:
    """Write ``mosaic`` (normalized, in ``like.cfa``, the size of ``like.mosaic`` or any even size)
    as a DNG with ``like``'s levels and metadata; atomically, so an existing file survives
    errors."""
    with atomic_path(path) as tmp:
        _write(tmp, mosaic, like)


def dng_bytes(mosaic: np.ndarray, like: RawImage) -> bytes:
    """The DNG that :func:`write_dng` would write, in memory."""
    buffer = io.BytesIO()
    _write(buffer, mosaic, like)
    return buffer.getvalue()
