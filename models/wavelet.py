"""Fixed Haar wavelet transforms, numerically identical to the released MWRCANet's.

The released network stores one 4x1x2x2 filter bank per transform and applies it as a grouped,
stride-2 cross-correlation (DWT) or the matching transposed convolution (IWT). We compute the
same thing as ``pixel_unshuffle`` followed by a 4x4 matrix product, which gives bit-identical
results and is faster on CPU for wide feature maps (bench/README.md, "Wavelet transforms").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["haar_filters", "DWT", "IWT"]


def haar_filters() -> torch.Tensor:
    """The released 4x1x2x2 filter bank (LL, LH, HL, HH), each flipped for cross-correlation."""
    bank = torch.tensor(
        [
            [[0.5, 0.5], [0.5, 0.5]],  # LL
            [[-0.5, -0.5], [0.5, 0.5]],  # LH
            [[-0.5, 0.5], [-0.5, 0.5]],  # HL
            [[0.5, -0.5], [-0.5, 0.5]],  # HH
        ]
    )
    return bank.flip(-1).flip(-2).unsqueeze(1).contiguous()


class _HaarBank(nn.Module):
    """Holds the fixed filter bank as a (non-trainable) buffer named ``weight``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", haar_filters())

    def _matrix(self, x: torch.Tensor) -> torch.Tensor:
        # Row k holds filter k over the 2x2 cell in pixel_unshuffle order (0,0), (0,1), (1,0),
        # (1,1).
        return self.weight.reshape(4, 4).to(dtype=x.dtype)


class DWT(_HaarBank):
    """N x C x H x W -> N x 4C x H/2 x W/2, channel-major sub-bands
    [c0 LL, c0 LH, c0 HL, c0 HH, c1 LL, ...]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"DWT needs even height and width, got {h} x {w}")
        cells = F.pixel_unshuffle(x, 2).reshape(n, c, 4, (h // 2) * (w // 2))
        return torch.matmul(self._matrix(x), cells).reshape(n, 4 * c, h // 2, w // 2)


class IWT(_HaarBank):
    """Inverse of :class:`DWT`: N x 4C x H x W -> N x C x 2H x 2W."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c4, h, w = x.shape
        if c4 % 4:
            raise ValueError(f"IWT needs a channel count divisible by 4, got {c4}")
        bands = x.reshape(n, c4 // 4, 4, h * w)
        cells = torch.matmul(self._matrix(x).t(), bands).reshape(n, c4, h, w)
        return F.pixel_shuffle(cells, 2)
