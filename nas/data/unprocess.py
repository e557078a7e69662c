"""Synthetic raw pairs by unprocessing sRGB photos.

Follows Brooks, Mildenhall, Xue, Chen, Sharlet and Barron, "Unprocessing Images for Learned Raw
Denoising", CVPR 2019: invert the tone curve (smoothstep) and gamma (2.2), apply a random camera
colour matrix (convex combination of four XYZ->camera matrices), apply inverse white-balance and
brightness gains with highlight preservation, mosaic to an RGGB Bayer plane in [0, 1], and add
heteroscedastic noise with variance ``shot * x + read``. Shot is log-uniform on [1e-4, 0.012]
and ``log(read) = 2.18 * log(shot) + 1.20 + N(0, 0.26)``; constants from the paper's code.

Everything is batched in torch and driven by an explicit ``torch.Generator`` so a seed fixes
every random choice; the images may live on any device, and the draws are made on the
generator's device (a CPU generator gives the CPU's numbers whatever the images' device). A
camera's DNG ``NoiseProfile`` (shot and read noise per colour plane) can replace the random noise
parameters: the noise then matches that camera at that ISO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

__all__ = [
    "CameraParams",
    "unprocess",
    "unprocess_with_params",
    "mosaic",
    "random_noise_levels",
    "add_noise",
    "profile_noise_levels",
    "raw_pairs_from_rgb",
]

_XYZ2CAMS = torch.tensor(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.6130, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.8380, -0.2630, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.0970, 0.1581, 0.5181]],
    ]
)
_RGB2XYZ = torch.tensor(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
SHOT_RANGE = (1e-4, 0.012)
READ_LINE = (2.18, 1.20)  # log(read) = slope * log(shot) + intercept
READ_JITTER = 0.26


@lru_cache(maxsize=None)
def _colour_matrices(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The XYZ -> camera and sRGB -> XYZ matrices on ``device``, copied there once (a copy from
    the CPU each batch would make the CPU wait for the device)."""
    return _XYZ2CAMS.to(device), _RGB2XYZ.to(device)


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=g, device=g.device)


def _randn(shape, g: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=g, device=g.device)


def _random_ccms(n: int, g: torch.Generator) -> torch.Tensor:
    weights = _uniform(4 * n, 1e-8, 1e8, g).view(n, 4, 1, 1)
    xyz2cams, rgb2xyz = _colour_matrices(g.device)
    xyz2cam = (weights * xyz2cams).sum(1) / weights.sum(1)
    rgb2cam = xyz2cam @ rgb2xyz
    return rgb2cam / rgb2cam.sum(-1, keepdim=True)


def _random_gains(n: int, g: torch.Generator) -> torch.Tensor:
    """Per image (rgb_gain, red_gain, blue_gain); rgb_gain = 1 / N(0.8, 0.1)."""
    rgb_gain = 1.0 / (0.8 + 0.1 * _randn(n, g))
    return torch.stack([rgb_gain, _uniform(n, 1.9, 2.4, g), _uniform(n, 1.5, 1.9, g)], 1)


@dataclass(frozen=True)
class CameraParams:
    """What :func:`unprocess_with_params` drew per image: the sRGB -> camera colour matrices
    (N x 3 x 3) and the gains (N x 3: brightness, red, blue). :mod:`.isp` inverts them."""

    rgb2cam: torch.Tensor
    gains: torch.Tensor


def unprocess(rgb: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """sRGB batch N x 3 x H x W in [0, 1] -> linear camera RGB N x 3 x H x W in [0, 1]."""
    return unprocess_with_params(rgb, g)[0]


def unprocess_with_params(
    rgb: torch.Tensor, g: torch.Generator
) -> tuple[torch.Tensor, CameraParams]:
    """:func:`unprocess`, also returning the random camera it drew (for re-processing to sRGB)."""
    n = rgb.shape[0]
    x = rgb.clamp(0, 1)
    x = 0.5 - torch.sin(torch.asin(1.0 - 2.0 * x) / 3.0)  # inverse smoothstep
    x = x.clamp_min(1e-8) ** 2.2  # inverse gamma
    rgb2cam = _random_ccms(n, g)
    x = torch.einsum("nij,njhw->nihw", rgb2cam.to(x.device), x)  # sRGB -> camera RGB
    gains = _random_gains(n, g)
    ones = torch.ones(n, device=gains.device)
    inv = torch.stack([1 / gains[:, 1], ones, 1 / gains[:, 2]], 1) / gains[:, :1]
    inv = inv.view(n, 3, 1, 1).to(x.device)
    gray = x.mean(1, keepdim=True)  # keep highlights from clipping
    mask = ((gray - 0.9).clamp_min(0) / 0.1) ** 2
    safe = torch.maximum(mask + (1 - mask) * inv, inv)
    return (x * safe).clamp(0, 1), CameraParams(rgb2cam, gains)


def mosaic(rgb: torch.Tensor) -> torch.Tensor:
    """Camera RGB N x 3 x H x W -> RGGB Bayer plane N x 1 x H x W."""
    out = rgb[:, 1:2].clone()  # green at (0,1) and (1,0)
    out[..., 0::2, 0::2] = rgb[:, 0:1, 0::2, 0::2]
    out[..., 1::2, 1::2] = rgb[:, 2:3, 1::2, 1::2]
    return out


def random_noise_levels(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image (shot, read) noise parameters from the paper's distribution."""
    log_shot = _uniform(n, math.log(SHOT_RANGE[0]), math.log(SHOT_RANGE[1]), g)
    log_read = READ_LINE[0] * log_shot + READ_LINE[1] + READ_JITTER * _randn(n, g)
    return log_shot.exp(), log_read.exp()


def add_noise(
    clean: torch.Tensor, shot: torch.Tensor, read: torch.Tensor, g: torch.Generator
) -> torch.Tensor:
    """Heteroscedastic Gaussian noise: variance = shot * clean + read (per image shot, read)."""
    view = (-1,) + (1,) * (clean.dim() - 1)
    variance = shot.view(view).to(clean.device) * clean + read.view(view).to(clean.device)
    return clean + variance.sqrt() * _randn(clean.shape, g).to(clean.device)


def profile_noise_levels(
    profile: tuple[float, ...], height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel (shot, read) maps, H x W, of an RGGB mosaic from a DNG NoiseProfile: one
    (shot, read) pair for every colour plane, or one pair per plane in the order R, G, B."""
    pairs = torch.tensor(profile, dtype=torch.float32).view(-1, 2)
    if len(pairs) not in (1, 3):
        raise ValueError(f"a NoiseProfile has 1 or 3 (shot, read) pairs, got {len(pairs)}")
    pairs = pairs.expand(3, 2) if len(pairs) == 1 else pairs
    cell = pairs[torch.tensor([[0, 1], [1, 2]])]  # RGGB: R G / G B
    maps = cell.repeat((height + 1) // 2, (width + 1) // 2, 1)[:height, :width]
    return maps[..., 0], maps[..., 1]


@lru_cache(maxsize=32)
def _profile_maps(
    profile: tuple[float, ...], height: int, width: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    shot, read = profile_noise_levels(profile, height, width)
    return shot.to(device), read.to(device)


def raw_pairs_from_rgb(
    rgb: torch.Tensor, g: torch.Generator, noise_profile: tuple[float, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB batch -> (noisy, clean) Bayer planes N x 1 x H x W. Noisy is not clipped (as real raw
    after black-level subtraction is not). The noise parameters are drawn per image from the
    paper's distribution, or fixed by a camera's ``noise_profile`` (see
    :func:`profile_noise_levels`)."""
    clean = mosaic(unprocess(rgb, g))
    if noise_profile is None:
        shot, read = random_noise_levels(rgb.shape[0], g)
        return add_noise(clean, shot, read, g), clean
    shot, read = _profile_maps(noise_profile, *clean.shape[-2:], clean.device)
    return clean + (shot * clean + read).sqrt() * _randn(clean.shape, g).to(clean.device), clean
