"""Noise models for synthetic pairs, one small class each, and mixes that draw one per sample.

sRGB models take sRGB photo crops N x 3 x H x W in [0, 1] (even sides) and return (noisy, clean)
8-bit sRGB pairs; raw models take clean RGGB mosaics N x 1 x H x W and return the noisy ones.
Every random choice comes from the ``torch.Generator`` passed in, so a seed fixes a sample.

Levels of the sRGB models are the noise's standard deviation in 8-bit units at mid grey (sRGB
0.5). Where each range comes from: nas/data/README.md, section "Noise models".
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .isp import quantize_8bit, srgb_pairs_from_rgb
from .unprocess import (
    READ_JITTER,
    READ_LINE,
    SHOT_RANGE,
    add_noise,
    mosaic,
    profile_noise_levels,
    random_noise_levels,
    unprocess,
)

__all__ = [
    "SRGB_LEVELS",
    "JPEG_QUALITIES",
    "SHARPEN_AMOUNTS",
    "CBDNET_SHOT_SIGMA",
    "CBDNET_READ_SIGMA",
    "srgb_to_linear",
    "linear_to_srgb",
    "SrgbNoiseModel",
    "RawNoiseModel",
    "IspNoise",
    "LinearNoise",
    "SrgbNoise",
    "gaussian_noise",
    "Sharpen",
    "Jpeg",
    "Processed",
    "SrgbMix",
    "BrooksRawNoise",
    "PoissonGaussianNoise",
    "PerPlaneNoise",
    "ProfileNoise",
    "RawMix",
    "raw_pairs",
    "SRGB_MIX",
    "RAW_MIX",
]

SRGB_LEVELS = (5.0, 50.0)  # std in 8-bit units at mid grey
JPEG_QUALITIES = (60, 100)  # CBDNet's range of JPEG quality factors
SHARPEN_AMOUNTS = (0.1, 0.5)  # unsharp-mask amounts: mild
CBDNET_SHOT_SIGMA = (0.0, 0.16)  # CBDNet: sigma_s, variance L * sigma_s^2
CBDNET_READ_SIGMA = (0.0, 0.06)  # CBDNet: sigma_c, variance sigma_c^2
_MID_GREY = 0.5


class SrgbNoiseModel(Protocol):
    def __call__(
        self, rgb: torch.Tensor, g: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class RawNoiseModel(Protocol):
    def __call__(self, clean: torch.Tensor, g: torch.Generator) -> torch.Tensor: ...


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer function's inverse (IEC 61966-2-1), values in [0, 1]."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer function (IEC 61966-2-1), values in [0, 1]."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def _uniform(n: int, bounds: Sequence[float], g: torch.Generator) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(n, generator=g)


def _log_uniform(n: int, bounds: Sequence[float], g: torch.Generator) -> torch.Tensor:
    return _uniform(n, (math.log(bounds[0]), math.log(bounds[1])), g).exp()


def _per_image(values: torch.Tensor) -> torch.Tensor:
    return values.view(-1, 1, 1, 1)


@dataclass(frozen=True)
class IspNoise:
    """``synthetic-srgb``'s noise: Brooks et al.'s raw noise brought through :mod:`.isp`
    (correlated by demosaicing, different per channel)."""

    def __call__(self, rgb, g):
        return srgb_pairs_from_rgb(rgb, g)


@dataclass(frozen=True)
class LinearNoise:
    """Independent signal-dependent noise added in linear light, re-encoded to 8-bit sRGB.
    Per image: a ``levels`` std at mid grey (log-uniform) of which ``shot_share`` of the variance
    is shot noise (grows with the linear signal) and the rest read noise (flat in linear light,
    so strongest in the shadows once encoded)."""

    levels: tuple[float, float] = SRGB_LEVELS
    shot_share: tuple[float, float] = (0.0, 1.0)

    def __call__(self, rgb, g):
        clean = quantize_8bit(rgb)
        n = rgb.shape[0]
        mid = srgb_to_linear(torch.tensor(_MID_GREY))
        slope = 1.055 / 2.4 * float(mid) ** (1 / 2.4 - 1)  # d sRGB / d linear at mid grey
        variance = (_log_uniform(n, self.levels, g) / 255 / slope) ** 2
        share = _uniform(n, self.shot_share, g)
        shot, read = _per_image(share * variance / mid), _per_image((1 - share) * variance)
        linear = srgb_to_linear(clean)
        noise = torch.randn(clean.shape, generator=g)
        noisy = linear + (shot * linear + read).sqrt() * noise
        return quantize_8bit(linear_to_srgb(noisy)), clean


@dataclass(frozen=True)
class SrgbNoise:
    """Independent signal-dependent noise added to the 8-bit sRGB values themselves: variance
    ``level^2 * (share * x / 0.5 + 1 - share)`` per image, then clipped and quantized. With
    ``shot_share`` (0, 0) it is additive white Gaussian noise."""

    levels: tuple[float, float] = SRGB_LEVELS
    shot_share: tuple[float, float] = (0.0, 1.0)

    def __call__(self, rgb, g):
        clean = quantize_8bit(rgb)
        n = rgb.shape[0]
        variance = _per_image((_log_uniform(n, self.levels, g) / 255) ** 2)
        share = _per_image(_uniform(n, self.shot_share, g))
        noise = torch.randn(clean.shape, generator=g)
        std = (variance * (share * clean / _MID_GREY + 1 - share)).sqrt()
        return quantize_8bit(clean + std * noise), clean


def gaussian_noise(sigma: float) -> SrgbNoise:
    """Additive white Gaussian noise of ``sigma`` in 8-bit units, in sRGB."""
    return SrgbNoise(levels=(sigma, sigma), shot_share=(0.0, 0.0))


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


@dataclass(frozen=True)
class Sharpen:
    """A camera's unsharp mask, ``x + amount * (x - blur(x))`` (Gaussian blur of ``radius``),
    ``amount`` uniform per image. Applied to the noisy and the clean image alike: the denoiser is
    to keep the camera's look, not undo it."""

    amounts: tuple[float, float] = SHARPEN_AMOUNTS
    radius: float = 1.0

    def __call__(self, images: Sequence[torch.Tensor], g: torch.Generator) -> list[torch.Tensor]:
        amount = _per_image(_uniform(images[0].shape[0], self.amounts, g))
        return [quantize_8bit(x + amount * (x - _gaussian_blur(x, self.radius))) for x in images]


@dataclass(frozen=True)
class Jpeg:
    """JPEG compression (Pillow, 4:2:0 chroma) at a quality drawn uniformly from ``qualities``
    per image. Applied to the noisy image only: the target stays uncompressed."""

    qualities: tuple[int, int] = JPEG_QUALITIES

    def __call__(self, rgb: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        from PIL import Image

        low, high = self.qualities
        qualities = torch.randint(low, high + 1, (rgb.shape[0],), generator=g).tolist()
        out = []
        for image, quality in zip(rgb, qualities):
            pixels = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
            decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
            out.append(torch.from_numpy(decoded.copy()).permute(2, 0, 1).float() / 255)
        return torch.stack(out)


@dataclass(frozen=True)
class Processed:
    """A base sRGB model followed by a camera's sharpening and/or JPEG compression."""

    base: SrgbNoiseModel
    sharpen: Sharpen | None = None
    jpeg: Jpeg | None = None

    def __call__(self, rgb, g):
        noisy, clean = self.base(rgb, g)
        if self.sharpen is not None:
            noisy, clean = self.sharpen([noisy, clean], g)
        if self.jpeg is not None:
            noisy = self.jpeg(noisy, g)
        return noisy, clean


def _draw_components(weights: Sequence[float], n: int, g: torch.Generator) -> list[int]:
    probabilities = torch.tensor(weights, dtype=torch.float64)
    return torch.multinomial(probabilities, n, replacement=True, generator=g).tolist()


@dataclass(frozen=True)
class SrgbMix:
    """Each sample draws its own base model (by ``weights``), then is sharpened with probability
    ``p_sharpen`` and JPEG-compressed with probability ``p_jpeg``."""

    components: tuple[SrgbNoiseModel, ...]
    weights: tuple[float, ...]
    p_sharpen: float = 0.0
    p_jpeg: float = 0.0
    sharpen: Sharpen = Sharpen()
    jpeg: Jpeg = Jpeg()

    def __call__(self, rgb, g):
        n = rgb.shape[0]
        picks = _draw_components(self.weights, n, g)
        post = torch.rand(n, 2, generator=g) < torch.tensor([self.p_sharpen, self.p_jpeg])
        pairs = []
        for i, (pick, (sharpen, jpeg)) in enumerate(zip(picks, post.tolist())):
            model = Processed(
                self.components[pick],
                sharpen=self.sharpen if sharpen else None,
                jpeg=self.jpeg if jpeg else None,
            )
            pairs.append(model(rgb[i : i + 1], g))
        return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


@dataclass(frozen=True)
class BrooksRawNoise:
    """``synthetic``'s noise: shot and read levels per image from Brooks et al. 2019's
    distribution (:func:`.unprocess.random_noise_levels`); ``read_jitter`` widens the spread of
    the read level about the paper's line."""

    shot_range: tuple[float, float] = SHOT_RANGE
    read_jitter: float = READ_JITTER

    def levels(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if (self.shot_range, self.read_jitter) == (SHOT_RANGE, READ_JITTER):
            return random_noise_levels(n, g)
        log_shot = _uniform(n, (math.log(self.shot_range[0]), math.log(self.shot_range[1])), g)
        jitter = self.read_jitter * torch.randn(n, generator=g)
        return log_shot.exp(), (READ_LINE[0] * log_shot + READ_LINE[1] + jitter).exp()

    def __call__(self, clean, g):
        shot, read = self.levels(clean.shape[0], g)
        return add_noise(clean, shot, read, g)


@dataclass(frozen=True)
class PoissonGaussianNoise:
    """CBDNet's heteroscedastic model on the linear signal: variance ``x * s^2 + c^2`` with
    ``s`` and ``c`` uniform per image on ``shot_sigma`` and ``read_sigma``."""

    shot_sigma: tuple[float, float] = CBDNET_SHOT_SIGMA
    read_sigma: tuple[float, float] = CBDNET_READ_SIGMA

    def __call__(self, clean, g):
        n = clean.shape[0]
        shot = _uniform(n, self.shot_sigma, g) ** 2
        read = _uniform(n, self.read_sigma, g) ** 2
        return add_noise(clean, shot, read, g)


def _rggb_maps(pairs: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """N x 3 x 2 (shot, read) per colour plane -> N x 1 x H x W maps over an RGGB mosaic."""
    cell = pairs[:, torch.tensor([[0, 1], [1, 2]])]  # N x 2 x 2 x 2
    maps = cell.repeat(1, (height + 1) // 2, (width + 1) // 2, 1)[:, :height, :width]
    return maps[:, None, ..., 0], maps[:, None, ..., 1]


@dataclass(frozen=True)
class PerPlaneNoise:
    """A random camera's NoiseProfile with one (shot, read) pair per colour plane, as a DNG with
    three pairs records: a level from ``base`` and each plane's shot and read scaled by factors
    log-uniform on ``plane_factors``."""

    base: BrooksRawNoise = BrooksRawNoise(shot_range=(1e-4, 0.02), read_jitter=0.5)
    plane_factors: tuple[float, float] = (0.7, 1.4)

    def __call__(self, clean, g):
        n = clean.shape[0]
        shot, read = self.base.levels(n, g)
        factors = _log_uniform(6 * n, self.plane_factors, g).view(n, 3, 2)
        pairs = torch.stack([shot, read], -1)[:, None] * factors
        shot_map, read_map = _rggb_maps(pairs, *clean.shape[-2:])
        noise = torch.randn(clean.shape, generator=g)
        return clean + (shot_map * clean + read_map).sqrt() * noise


@dataclass(frozen=True)
class ProfileNoise:
    """One camera at one ISO: a DNG NoiseProfile (1 or 3 (shot, read) pairs), as
    ``synthetic:FILE.dng`` uses it."""

    profile: tuple[float, ...]

    def __call__(self, clean, g):
        shot, read = profile_noise_levels(self.profile, *clean.shape[-2:])
        return clean + (shot * clean + read).sqrt() * torch.randn(clean.shape, generator=g)


@dataclass(frozen=True)
class RawMix:
    """Each mosaic draws its own raw model by ``weights``."""

    components: tuple[RawNoiseModel, ...]
    weights: tuple[float, ...]

    def __call__(self, clean, g):
        picks = _draw_components(self.weights, clean.shape[0], g)
        return torch.cat(
            [self.components[pick](clean[i : i + 1], g) for i, pick in enumerate(picks)]
        )


def raw_pairs(
    rgb: torch.Tensor, g: torch.Generator, noise: RawNoiseModel
) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB crops -> (noisy, clean) RGGB mosaics N x 1 x H x W: unprocessed (Brooks et al.), then
    ``noise``. With :class:`BrooksRawNoise` this is ``synthetic``'s data draw for draw."""
    clean = mosaic(unprocess(rgb, g))
    return noise(clean, g), clean


# The wider distributions of synthetic-srgb-mix and synthetic-mix.
SRGB_MIX = SrgbMix(
    components=(IspNoise(), LinearNoise(), SrgbNoise()),
    weights=(0.5, 0.25, 0.25),
    p_sharpen=0.25,
    p_jpeg=0.5,
)
RAW_MIX = RawMix(
    components=(BrooksRawNoise(), PoissonGaussianNoise(), PerPlaneNoise()),
    weights=(0.5, 0.25, 0.25),
)
