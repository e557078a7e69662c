"""Data sources, selected by one string: training patch samplers and fixed validation block sets.

========================  ==========  ==========  ===============================================
source string             training    validation  what it reads
========================  ==========  ==========  ===============================================
``synthetic``             yes         yes         unprocessed scikit-image photos (no files)
``synthetic:FILE.dng``    yes         yes         the same, with the noise of FILE's NoiseProfile tag
``sidd-val:DIR``          no          yes         ValidationNoisyBlocksRaw.mat / ValidationGtBlocksRaw.mat
``siddplus-val:DIR``      no          yes         siddplus_valid_noisy_raw.mat / siddplus_valid_gt_raw.mat
``sidd-medium:DIR``       yes         no          */*NOISY_RAW_*.MAT with *GT_RAW_*.MAT, key ``x`` (v7.3)
``pairs:DIR``             yes         yes         DIR/noisy/NAME.npy with DIR/clean/NAME.npy
``raws:DIR``              no          no          camera raw files (noisy only: pseudo-labelling)
========================  ==========  ==========  ===============================================

Real mosaics are unified to the trained CFA pattern (RGGB) as they are cropped, and augmented
with phase-correct flips and transposes, so every patch a network sees is RGGB.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .bayer import DEFAULT_PATTERN, parse_pattern, pattern_after, pattern_offset
from .camera_raw import raw_crops, read_raw
from .mat import DataError, open_mat_lazy, read_array
from .unprocess import raw_pairs_from_rgb

__all__ = ["BlockSet", "PatchSampler", "BayerCropSampler", "array_reader", "SOURCES", "training_sampler", "validation_set",
           "unlabeled_blocks", "SIDD_PHONE_PATTERNS", "TRAIN_PHOTOS", "VAL_PHOTOS", "VALIDATION_SEED"]

# scikit-image's bundled colour photos. The stereo pair stays together in training so no view of
# a validation scene is ever trained on; retina and ihc are medical/microscopy, not photographs.
TRAIN_PHOTOS = ("astronaut.png", "coffee.png", "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg")
VAL_PHOTOS = ("chelsea.png", "rocket.jpg")
VALIDATION_SEED = 20200614  # fixed: every candidate of every run sees identical validation data
# SIDD's phones (the third field of a scene folder name, e.g. 0001_001_S6_00100_00060_3200_L)
# and their CFA patterns, as Liu et al. 2019 list them.
SIDD_PHONE_PATTERNS = {"GP": "BGGR", "IP": "RGGB", "S6": "GRBG", "N6": "BGGR", "G4": "BGGR"}


@dataclass
class BlockSet:
    """Fixed validation blocks: 2-D float32 arrays of noisy and clean raw, index-aligned."""

    noisy: Sequence[np.ndarray]
    clean: Sequence[np.ndarray]
    source: str

    def __len__(self) -> int:
        return len(self.noisy)


class PatchSampler:
    """Draws training batches (noisy, clean), each ``batch x 1 x patch x patch``, from a generator."""

    def sample(self, batch: int, patch: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


@lru_cache(maxsize=None)
def _photo(name: str) -> torch.Tensor:
    """A bundled photo read from scikit-image's own data folder (never fetched)."""
    import skimage.data
    import skimage.io
    path = Path(skimage.data.data_dir) / name
    if not path.is_file():
        raise DataError(f"scikit-image does not ship {name} at {path}; reinstall scikit-image")
    image = skimage.io.imread(path)
    return torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float() / 255.0


def _random_int(high: int, g: torch.Generator) -> int:
    return int(torch.randint(high, (1,), generator=g))


class SyntheticSampler(PatchSampler):
    """Random RGB crops of the training photos, flipped/transposed, then unprocessed to raw pairs.
    Augmenting before the mosaic keeps every patch RGGB. ``noise_profile``: a camera's DNG
    NoiseProfile instead of random noise parameters."""

    def __init__(self, photos: Sequence[str] = TRAIN_PHOTOS, noise_profile: tuple[float, ...] | None = None) -> None:
        self.photos = [_photo(name) for name in photos]
        self.noise_profile = noise_profile

    def sample(self, batch, patch, g):
        crops = []
        for _ in range(batch):
            image = self.photos[_random_int(len(self.photos), g)]
            h, w = image.shape[-2:]
            if min(h, w) < patch:
                raise DataError(f"patch {patch} is larger than a training photo ({h} x {w})")
            y, x = _random_int(h - patch + 1, g), _random_int(w - patch + 1, g)
            crop = image[:, y:y + patch, x:x + patch]
            flips = torch.rand(3, generator=g) < 0.5
            crop = crop.flip(-1) if flips[0] else crop
            crop = crop.flip(-2) if flips[1] else crop
            crops.append(crop.transpose(-1, -2) if flips[2] else crop)
        return raw_pairs_from_rgb(torch.stack(crops), g, self.noise_profile)


def _augment(block: torch.Tensor, flip_h: bool, flip_v: bool, transpose: bool) -> torch.Tensor:
    block = block.flip(-1) if flip_h else block
    block = block.flip(-2) if flip_v else block
    return block.transpose(-1, -2) if transpose else block


@lru_cache(maxsize=None)
def _aligning_offset(pattern: str, target: str, flip_h: bool, flip_v: bool, transpose: bool) -> tuple[int, int]:
    """Where to cut an augmented even-sided crop of a ``pattern`` mosaic so it is in ``target``."""
    augmented = pattern_after(pattern, lambda t: _augment(t, flip_h, flip_v, transpose), (2, 2))
    return pattern_offset(augmented, target)


class BayerCropSampler(PatchSampler):
    """Crops of real mosaics at even offsets, with Bayer unification and Bayer-preserving
    augmentation (Liu et al. 2019): crop two pixels more, flip/transpose, then cut the patch at
    the one-pixel offset that puts it in the trained pattern ``target``, whatever the file's
    pattern and the flips. A pair is (read_noisy(y, x, size), read_target(y, x, size), (height,
    width)) with an optional fourth element, the file's CFA pattern (default: ``target``). A
    target reader may return K stacked planes (K x H x W, e.g. two teachers' outputs); batches
    then carry K target channels."""

    def __init__(self, pairs: Sequence[tuple], target: str = DEFAULT_PATTERN) -> None:
        self.pairs = pairs
        self.target = parse_pattern(target)

    def sample(self, batch, patch, g):
        size = patch + 2
        noisy, target = [], []
        for _ in range(batch):
            read_noisy, read_target, (h, w), *pattern = self.pairs[_random_int(len(self.pairs), g)]
            if min(h, w) < size:
                raise DataError(f"patch {patch} needs images of at least {size} x {size}, found {h} x {w}")
            y, x = 2 * _random_int((h - size) // 2 + 1, g), 2 * _random_int((w - size) // 2 + 1, g)
            flips = tuple((torch.rand(3, generator=g) < 0.5).tolist())
            dy, dx = _aligning_offset(pattern[0] if pattern else self.target, self.target, *flips)
            for out, read in ((noisy, read_noisy), (target, read_target)):
                block = _augment(torch.from_numpy(np.ascontiguousarray(read(y, x, size), dtype=np.float32)), *flips)
                block = block[..., dy:dy + patch, dx:dx + patch]
                out.append(block if block.dim() == 3 else block[None])
        return torch.stack(noisy), torch.stack(target)


def array_reader(array: np.ndarray) -> Callable:
    """Crops of an H x W (or K x H x W) array."""
    return lambda y, x, size: array[..., y:y + size, x:x + size]


def _h5_reader(dataset) -> Callable:
    # v7.3 stores the transpose: MATLAB row y is HDF5 column y.
    return lambda y, x, size: dataset[x:x + size, y:y + size].T


# ---- the sources -------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _synthetic_blocks(num_blocks: int, block_size: int, noise_profile: tuple[float, ...] | None = None) -> BlockSet:
    g = torch.Generator().manual_seed(VALIDATION_SEED)
    photos = [_photo(name) for name in VAL_PHOTOS]
    crops = []
    for k in range(num_blocks):
        image = photos[k % len(photos)]
        h, w = image.shape[-2:]
        if min(h, w) < block_size:
            raise DataError(f"validation block size {block_size} is larger than a validation photo ({h} x {w})")
        y, x = _random_int(h - block_size + 1, g), _random_int(w - block_size + 1, g)
        crops.append(image[:, y:y + block_size, x:x + block_size])
    noisy, clean = raw_pairs_from_rgb(torch.stack(crops), g, noise_profile)
    return BlockSet(noisy[:, 0].numpy(), clean[:, 0].numpy(), "synthetic")


def _sidd_blocks(directory: str, noisy_stem: str, clean_stem: str, shape: tuple, label: str) -> BlockSet:
    root = Path(directory)
    arrays = []
    for stem in (noisy_stem, clean_stem):
        array = read_array(root / f"{stem}.mat", key=stem)
        # The official files are exactly ``shape``; any count of (H, W) blocks is accepted so
        # subsets and synthetic stand-ins in the same layout load too.
        if array.ndim != len(shape) or any(s % 2 for s in array.shape[-2:]):
            raise DataError(f"{root / stem}.mat: {stem} has shape {array.shape}, expected {shape} "
                            f"({len(shape)}-D, even block sides)")
        arrays.append(array.reshape(-1, *array.shape[-2:]))
    return BlockSet(arrays[0], arrays[1], f"{label}:{directory}")


def camera_noise_profile(path: str) -> tuple[float, ...] | None:
    """The NoiseProfile of the DNG at ``path`` (None for an empty path); DataError if it has none."""
    if not path:
        return None
    profile = read_raw(path).metadata.noise_profile
    if profile is None or len(profile) not in (2, 6):
        raise DataError(f"{path}: no NoiseProfile tag with 1 or 3 (shot, read) pairs; synthetic:FILE needs a DNG "
                        "that records its noise")
    return profile


def _synthetic_train(path: str) -> PatchSampler:
    return SyntheticSampler(noise_profile=camera_noise_profile(path))


def _synthetic_val(path: str, num_blocks: int | None, block_size: int) -> BlockSet:
    blocks = _synthetic_blocks(num_blocks or 64, block_size, camera_noise_profile(path))
    return replace(blocks, source=f"synthetic:{path}") if path else blocks


def _sidd_val(directory: str, *_) -> BlockSet:
    return _sidd_blocks(directory, "ValidationNoisyBlocksRaw", "ValidationGtBlocksRaw", (40, 32, 256, 256), "sidd-val")


def _siddplus_val(directory: str, *_) -> BlockSet:
    return _sidd_blocks(directory, "siddplus_valid_noisy_raw", "siddplus_valid_gt_raw", (1024, 256, 256),
                        "siddplus-val")


def _pair_files(directory: str) -> list[tuple[Path, Path]]:
    root = Path(directory)
    noisy_dir, clean_dir = root / "noisy", root / "clean"
    if not noisy_dir.is_dir() or not clean_dir.is_dir():
        raise DataError(f"{root}: expected subfolders noisy/ and clean/ holding .npy files of the same names")
    noisy = sorted(noisy_dir.glob("*.npy"))
    if not noisy:
        raise DataError(f"{noisy_dir}: no .npy files")
    missing = [p.name for p in noisy if not (clean_dir / p.name).is_file()]
    if missing:
        raise DataError(f"{clean_dir}: no clean file for {', '.join(missing[:3])}")
    return [(p, clean_dir / p.name) for p in noisy]


def _pair_arrays(directory: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    noisy_all, clean_all = [], []
    for noisy_path, clean_path in _pair_files(directory):
        noisy, clean = read_array(noisy_path), read_array(clean_path)
        if noisy.shape != clean.shape or noisy.ndim not in (2, 3):
            raise DataError(f"{noisy_path.name}: noisy {noisy.shape} and clean {clean.shape} must be equal "
                            "2-D (H, W) or 3-D (N, H, W) arrays")
        noisy_all.extend(noisy if noisy.ndim == 3 else [noisy])
        clean_all.extend(clean if clean.ndim == 3 else [clean])
    return noisy_all, clean_all


def _pairs_val(directory: str, *_) -> BlockSet:
    noisy, clean = _pair_arrays(directory)
    return BlockSet(noisy, clean, f"pairs:{directory}")


def _pairs_train(directory: str) -> PatchSampler:
    noisy, clean = _pair_arrays(directory)
    return BayerCropSampler([(array_reader(n), array_reader(c), n.shape) for n, c in zip(noisy, clean)])


def sidd_phone_pattern(scene_folder: str) -> str:
    """The CFA pattern of a SIDD scene folder, from its phone code (the third ``_`` field)."""
    fields = scene_folder.split("_")
    phone = fields[2].upper() if len(fields) > 2 else ""
    if phone not in SIDD_PHONE_PATTERNS:
        raise DataError(f"{scene_folder}: no known SIDD phone code in the folder name (third field; known: "
                        f"{', '.join(f'{k} {v}' for k, v in SIDD_PHONE_PATTERNS.items())})")
    return SIDD_PHONE_PATTERNS[phone]


def _sidd_medium_train(directory: str) -> PatchSampler:
    root = Path(directory)
    noisy_files = sorted(p for p in root.rglob("*") if p.is_file() and "NOISY_RAW" in p.name.upper()
                         and p.suffix.lower() == ".mat")
    if not noisy_files:
        raise DataError(f"{root}: no *NOISY_RAW_*.MAT files (SIDD-Medium raw layout)")
    pairs, handles = [], []
    for noisy_path in noisy_files:
        clean_path = noisy_path.with_name(noisy_path.name.replace("NOISY", "GT").replace("noisy", "gt"))
        fn, noisy = open_mat_lazy(noisy_path, "x")
        fc, clean = open_mat_lazy(clean_path, "x")
        handles += [fn, fc]
        if noisy.shape != clean.shape or len(noisy.shape) != 2:
            raise DataError(f"{noisy_path.name}: noisy {noisy.shape} and clean {clean.shape} must be equal 2-D mosaics")
        pattern = sidd_phone_pattern(noisy_path.parent.name)
        pairs.append((_h5_reader(noisy), _h5_reader(clean), noisy.shape[::-1], pattern))
    sampler = BayerCropSampler(pairs)   # unifies every phone's pattern to RGGB
    sampler.handles = handles   # keep the files open for the sampler's lifetime
    return sampler


@dataclass(frozen=True)
class Source:
    train: Callable[[str], PatchSampler] | None
    # (argument, num_blocks, block_size) -> blocks; file sources ignore the size and are subset after
    validation: Callable[[str, int | None, int], BlockSet] | None
    needs_dir: bool = True
    # (argument, num_blocks, block_size, seed) -> noisy-only blocks N x S x S, for pseudo-labelling
    unlabeled: Callable[[str, int, int, int], np.ndarray] | None = None


# The one table of data sources.
SOURCES: dict[str, Source] = {
    "synthetic": Source(train=_synthetic_train, validation=_synthetic_val, needs_dir=False),
    "sidd-val": Source(train=None, validation=_sidd_val),
    "siddplus-val": Source(train=None, validation=_siddplus_val),
    "sidd-medium": Source(train=_sidd_medium_train, validation=None),
    "pairs": Source(train=_pairs_train, validation=_pairs_val),
    "raws": Source(train=None, validation=None, unlabeled=raw_crops),
}


def _parse(text: str) -> tuple[str, Source, str]:
    kind, _, arg = text.partition(":")
    if kind not in SOURCES:
        raise DataError(f"unknown data source {text!r} (known: {', '.join(k if k == 'synthetic' else k + ':DIR' for k in SOURCES)})")
    source = SOURCES[kind]
    if source.needs_dir and not arg:
        raise DataError(f"data source {kind!r} needs a folder: {kind}:DIR")
    if source.needs_dir and not Path(arg).is_dir():
        raise DataError(f"data source {text!r}: folder not found: {arg}")
    return kind, source, arg


def training_sampler(text: str) -> PatchSampler:
    """The training sampler of a source string such as ``synthetic`` or ``sidd-medium:DIR``."""
    kind, source, arg = _parse(text)
    if source.train is None:
        raise DataError(f"data source {kind!r} holds {'validation blocks' if source.validation else 'noisy photos'} "
                        "only; train on synthetic, sidd-medium:DIR or pairs:DIR")
    return source.train(arg)


def validation_set(text: str, num_blocks: int | None = None, block_size: int = 128) -> BlockSet:
    """The fixed validation blocks of a source. ``num_blocks`` keeps an evenly spaced subset (the
    synthetic set is generated with exactly that many ``block_size`` blocks, 64 if not given)."""
    kind, source, arg = _parse(text)
    if source.validation is None:
        raise DataError(f"data source {kind!r} is for {'training' if source.train else 'pseudo-labelling'} only; "
                        "validate on synthetic, sidd-val:DIR, siddplus-val:DIR or pairs:DIR")
    blocks = source.validation(arg, num_blocks, block_size)
    if num_blocks and num_blocks < len(blocks):
        keep = np.linspace(0, len(blocks) - 1, num_blocks).round().astype(int)
        blocks = BlockSet([blocks.noisy[i] for i in keep], [blocks.clean[i] for i in keep], blocks.source)
    return blocks


def unlabeled_blocks(text: str, num_blocks: int = 64, block_size: int = 128, seed: int = 0) -> np.ndarray:
    """Noisy inputs to pseudo-label, float32 N x S x S: ``num_blocks`` fixed crops (``seed``) of
    the camera raws of ``raws:DIR``, unified to RGGB; or all noisy blocks of a validation source
    (``siddplus-val:DIR``, ...), which must share one size."""
    kind, source, arg = _parse(text)
    if source.unlabeled is not None:
        return source.unlabeled(arg, num_blocks, block_size, seed)
    if source.validation is None:
        raise DataError(f"data source {kind!r} holds no fixed inputs to pseudo-label; use raws:DIR or a "
                        "validation source")
    blocks = source.validation(arg, num_blocks, block_size)   # file sources: all their blocks
    if len({b.shape for b in blocks.noisy}) != 1:
        raise DataError(f"{text}: its blocks differ in size; pseudo-labelling needs one size")
    return np.stack(list(blocks.noisy)).astype(np.float32)
