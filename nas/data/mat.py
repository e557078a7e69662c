"""Reading arrays from MATLAB files: v5 (scipy) and v7.3 (HDF5, through h5py), and .npy files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import DataError

__all__ = ["read_array", "open_mat_lazy", "write_array", "ARRAY_SUFFIXES"]


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(512)  # MATLAB v7.3 files carry a 512-byte header before the HDF5 signature
        return f.read(8) == b"\x89HDF\r\n\x1a\n"


# Noisy images may stray well outside [0, 1] (unclipped noise, black level); raw counts or 0-255
# values are far outside.
PLAUSIBLE_RANGE = (-2.0, 4.0)


def read_array(
    path: str | os.PathLike, key: str | None = None, integers: bool = False
) -> np.ndarray:
    """The array at ``key`` of a .mat file (v5 or v7.3), or the array of a .npy file, as float32.
    With ``integers``, 8 and 16-bit integer arrays (sRGB files) are accepted and divided by 255 or
    65535; otherwise the values must already be floating point in [0, 1].

    v7.3 arrays are stored column-major; they are transposed back to MATLAB's row order here.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError as err:
            raise DataError(f"{path}: not a plain numeric .npy array ({err})") from None
        return _as_float32(array, path, "array", integers)
    if path.suffix.lower() != ".mat":
        raise DataError(f"{path}: expected a .npy or .mat file")
    if key is None:
        raise DataError(f"{path}: a .mat file needs the name of its array (key)")
    if _is_hdf5(path):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                if not isinstance(f.get(key), h5py.Dataset):
                    raise DataError(
                        f"{path}: no array {key!r} (found: {', '.join(f.keys()) or 'none'})"
                    )
                return _as_float32(np.asarray(f[key]).T, path, key, integers)
        except DataError:
            raise
        except (OSError, TypeError, ValueError) as err:  # a damaged HDF5 body, or a group at key
            raise DataError(f"{path}: not a readable MATLAB v7.3 file ({err})") from None
    import scipy.io

    try:
        contents = scipy.io.loadmat(path, variable_names=[key])
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: not a readable .mat file ({err})") from None
    if key not in contents:
        found = [k for k in scipy.io.whosmat(path)]
        raise DataError(
            f"{path}: no array {key!r} (found: {', '.join(n for n, _, _ in found) or 'none'})"
        )
    return _as_float32(contents[key], path, key, integers)


def open_mat_lazy(path: Path, key: str):
    """An h5py dataset (v7.3 .mat) for cropping without reading the whole file; rows and columns
    are swapped relative to MATLAB. Returns (file handle, dataset); caller keeps the handle open."""
    import h5py

    if not path.is_file():
        raise DataError(f"file not found: {path}")
    if not _is_hdf5(path):
        raise DataError(f"{path}: expected a MATLAB v7.3 (HDF5) file, as SIDD-Medium ships")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: not a readable MATLAB v7.3 file ({err})") from None
    if key not in handle:
        found = ", ".join(handle.keys()) or "none"
        handle.close()
        raise DataError(f"{path}: no array {key!r} (found: {found})")
    return handle, handle[key]


ARRAY_SUFFIXES = (".npy", ".mat", ".tif", ".tiff")


def write_array(path: str | os.PathLike, array: np.ndarray, key: str | None = None) -> None:
    """Write ``array`` as .npy, a v5 .mat under ``key``, or a float32 .tif/.tiff, atomically (an
    existing file survives any error)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ARRAY_SUFFIXES:
        raise DataError(f"{path}: output must be {', '.join(ARRAY_SUFFIXES)}")
    with atomic_path(path) as tmp:
        if suffix == ".npy":
            np.save(tmp, array)
        elif suffix == ".mat":
            import scipy.io

            scipy.io.savemat(tmp, {key or "x": array}, do_compression=False)
        else:
            import tifffile

            tifffile.imwrite(tmp, np.asarray(array, np.float32), metadata=None)


def _as_float32(array: np.ndarray, path: Path, key: str, integers: bool = False) -> np.ndarray:
    if array.size == 0:
        raise DataError(f"{path}: {key} is empty (shape {array.shape})")
    if integers and array.dtype in (np.uint8, np.uint16):
        return np.asarray(array, dtype=np.float32) / np.float32(np.iinfo(array.dtype).max)
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(
            f"{path}: {key} has dtype {array.dtype}, expected floating-point values in [0, 1]"
        )
    values = np.asarray(array, dtype=np.float32)
    if not np.isfinite(values).all():
        raise DataError(f"{path}: {key} holds NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if (
        low < PLAUSIBLE_RANGE[0] or high > PLAUSIBLE_RANGE[1]
    ):  # e.g. raw counts not divided by the white level
        raise DataError(
            f"{path}: {key} ranges from {low:g} to {high:g}; expected values in [0, 1] "
            "(divide raw counts by the white level)"
        )
    return values
