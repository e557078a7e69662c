"""A simple camera ISP, the inverse of :mod:`.unprocess`: synthetic sRGB pairs with realistic noise.

A photo is unprocessed to a raw mosaic (Brooks et al. 2019), raw noise is added there, and both
mosaics go through the same simple ISP: bilinear demosaicing, white balance and brightness gains,
the camera -> sRGB colour matrix, gamma 1/2.2 and the smoothstep tone curve, then 8-bit
quantization, as a camera stores a JPEG or PNG. The noise that comes out is what SIDD's sRGB
images show and plain Gaussian noise is not: signal-dependent (shot noise), different per
colour channel (gains and the colour matrix), and spatially correlated (demosaicing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .unprocess import CameraParams, add_noise, mosaic, random_noise_levels, unprocess_with_params

__all__ = ["demosaic_bilinear", "process", "quantize_8bit", "srgb_pairs_from_rgb"]

_KERNEL_RB = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
_KERNEL_G = torch.tensor([[0.0, 0.25, 0.0], [0.25, 1.0, 0.25], [0.0, 0.25, 0.0]])


def _rggb_masks(height: int, width: int) -> torch.Tensor:
    """3 x H x W: where an RGGB mosaic samples red, green and blue."""
    masks = torch.zeros(3, height, width)
    masks[0, 0::2, 0::2] = 1
    masks[1, 0::2, 1::2] = 1
    masks[1, 1::2, 0::2] = 1
    masks[2, 1::2, 1::2] = 1
    return masks


def demosaic_bilinear(bayer: torch.Tensor) -> torch.Tensor:
    """RGGB mosaics N x 1 x H x W (even sides) -> camera RGB N x 3 x H x W by bilinear
    interpolation. Reflect padding keeps the border pixels on their CFA phase."""
    h, w = bayer.shape[-2:]
    planes = bayer * _rggb_masks(h, w).to(bayer)
    kernels = torch.stack([_KERNEL_RB, _KERNEL_G, _KERNEL_RB])[:, None].to(bayer)
    return F.conv2d(F.pad(planes, (1, 1, 1, 1), mode="reflect"), kernels, groups=3)


def process(bayer: torch.Tensor, camera: CameraParams) -> torch.Tensor:
    """Raw RGGB mosaics N x 1 x H x W -> sRGB N x 3 x H x W in [0, 1] for the cameras that
    :func:`.unprocess.unprocess_with_params` drew: demosaic, gains, colour matrix, gamma, tone."""
    n = bayer.shape[0]
    rgb = demosaic_bilinear(bayer.clamp(0, 1))
    brightness, red, blue = camera.gains.unbind(1)
    gains = torch.stack([red, torch.ones(n), blue], 1) * brightness[:, None]
    rgb = (rgb * gains.view(n, 3, 1, 1).to(rgb)).clamp(0, 1)
    cam2rgb = torch.linalg.inv(camera.rgb2cam).to(rgb)
    rgb = torch.einsum("nij,njhw->nihw", cam2rgb, rgb).clamp(0, 1)
    rgb = rgb.clamp_min(1e-8) ** (1 / 2.2)
    return (3 * rgb**2 - 2 * rgb**3).clamp(0, 1)  # smoothstep tone curve


def quantize_8bit(rgb: torch.Tensor) -> torch.Tensor:
    """Round to the 256 levels an 8-bit image stores (values stay in [0, 1])."""
    return (rgb.clamp(0, 1) * 255).round() / 255


def srgb_pairs_from_rgb(rgb: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB photo crops N x 3 x H x W (even sides) -> (noisy, clean) 8-bit sRGB N x 3 x H x W: raw
    noise of the unprocessing paper's distribution, added before a simple ISP."""
    linear, camera = unprocess_with_params(rgb, g)
    clean_raw = mosaic(linear)
    shot, read = random_noise_levels(rgb.shape[0], g)
    noisy_raw = add_noise(clean_raw, shot, read, g)
    return quantize_8bit(process(noisy_raw, camera)), quantize_8bit(process(clean_raw, camera))
