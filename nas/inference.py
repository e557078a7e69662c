"""Inference: the paper's x8 self-ensemble (batched), and tiled inference for full-size mosaics."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from models import SIZE_MULTIPLE

__all__ = ["VIEWS", "TilingError", "check_tiling", "default_overlap", "self_ensemble", "predict", "tiled",
           "tile_count", "denoise_array"]

Net = Callable[[torch.Tensor], torch.Tensor]

# The x8 views of the paper: rotations by 0, 90, 180, 270 degrees, each with and without a
# left-right flip of the rotated image.
VIEWS = [(k, flip) for k in range(4) for flip in (False, True)]


def _forward_view(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1))
    return x.flip(-1) if flip else x


def _inverse_view(y: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    y = y.flip(-1) if flip else y
    return torch.rot90(y, -k, dims=(-2, -1))


def self_ensemble(net: Net, x: torch.Tensor, batched: bool = True) -> torch.Tensor:
    """Average of ``net`` over the 8 views of ``x`` (N x C x H x W), mapped back and clipped to [0, 1].

    ``batched`` runs all views of one shape in a single forward pass (8 for square inputs, two
    passes of 4 otherwise); ``batched=False`` runs them one at a time (less memory).
    """
    n = x.shape[0]
    total = torch.zeros_like(x)
    groups = [VIEWS] if not batched else [[v for v in VIEWS if v[0] % 2 == parity] for parity in (0, 1)]
    for group in (groups if batched else [[v] for v in VIEWS]):
        outputs = net(torch.cat([_forward_view(x, k, flip) for k, flip in group]))
        for i, (k, flip) in enumerate(group):
            total += _inverse_view(outputs[i * n:(i + 1) * n], k, flip)
    return (total / len(VIEWS)).clamp(0, 1)


def predict(net: Net, x: torch.Tensor, ensemble: bool = False) -> torch.Tensor:
    """One denoised batch, clipped to [0, 1]; with ``ensemble`` the x8 self-ensemble."""
    return self_ensemble(net, x) if ensemble else net(x).clamp(0, 1)


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _edge_ramp(length: int, overlap: int, low_edge: bool, high_edge: bool) -> torch.Tensor:
    """1-D blending weight: zero for overlap/4 pixels at an inner edge, then a linear ramp to 1
    over overlap/2. Two neighbours overlapping by ``overlap`` sum to 1, and a pixel's weight is
    zero where its tile saw too little context around it."""
    ramp = torch.ones(length)
    if overlap <= 0:
        return ramp
    margin = overlap // 4
    span = max(overlap - 2 * margin, 1)
    distance = torch.arange(length, dtype=torch.float32) + 0.5
    rising = ((distance - margin) / span).clamp(0, 1)
    if low_edge:
        ramp = torch.minimum(ramp, rising)
    if high_edge:
        ramp = torch.minimum(ramp, rising.flip(0))
    return ramp


class TilingError(ValueError):
    """A tile size or overlap that tiled inference cannot use."""


def default_overlap(tile: int) -> int:
    """32 pixels of overlap, or less for small tiles: at most half the tile, a multiple of 8."""
    return min(32, (tile // 2) // SIZE_MULTIPLE * SIZE_MULTIPLE)


def check_tiling(tile: int, overlap: int) -> None:
    """TilingError unless ``tile`` is a positive multiple of 8 and ``overlap`` a multiple of 8 in [0, tile)."""
    if tile <= 0 or tile % SIZE_MULTIPLE:
        raise TilingError(f"tile size must be a positive multiple of {SIZE_MULTIPLE}, got {tile}")
    if not 0 <= overlap < tile or overlap % SIZE_MULTIPLE:
        raise TilingError(f"tile overlap must be a multiple of {SIZE_MULTIPLE} in [0, {tile}), got {overlap}")


def tiled(net: Net, x: torch.Tensor, tile: int, overlap: int = 32, progress: Callable | None = None) -> torch.Tensor:
    """Run ``net`` on overlapping ``tile x tile`` windows of ``x`` (1 x C x H x W, H and W multiples
    of 8) and blend them. Tile origins are multiples of 8, so each tile sees the same Haar grid and
    Bayer phase as the whole image; peak memory follows the tile size, not the image."""
    check_tiling(tile, overlap)
    h, w = x.shape[-2:]
    stride = tile - overlap
    ys, xs = _starts(h, tile, stride), _starts(w, tile, stride)
    out = torch.zeros_like(x)
    weight = torch.zeros(h, w, dtype=x.dtype)
    for y in ys:
        for x0 in xs:
            th, tw = min(tile, h), min(tile, w)
            window = net(x[..., y:y + th, x0:x0 + tw])
            wy = _edge_ramp(th, overlap, y > 0, y + th < h)
            wx = _edge_ramp(tw, overlap, x0 > 0, x0 + tw < w)
            blend = (wy[:, None] * wx[None, :]).to(x.dtype)
            out[..., y:y + th, x0:x0 + tw] += window * blend
            weight[y:y + th, x0:x0 + tw] += blend
            if progress:
                progress(1)
    return out / weight


def _pad_to_multiple(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % SIZE_MULTIPLE, -w % SIZE_MULTIPLE
    if pad_h or pad_w:   # bottom/right only: the Bayer phase of every real pixel is unchanged
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(h, w) > SIZE_MULTIPLE else "replicate")
    return x, h, w


def tile_count(height: int, width: int, tile: int, overlap: int) -> int:
    h, w = height + (-height % SIZE_MULTIPLE), width + (-width % SIZE_MULTIPLE)
    return len(_starts(h, tile, tile - overlap)) * len(_starts(w, tile, tile - overlap))


@torch.inference_mode()
def denoise_array(model: torch.nn.Module, image: np.ndarray, ensemble: bool = False, tile: int | None = None,
                  overlap: int | None = None, progress: Callable | None = None) -> np.ndarray:
    """Denoise one 2-D raw mosaic of any size (padded to a multiple of 8 and cropped back);
    ``overlap`` defaults to :func:`default_overlap` of the tile."""
    x = torch.from_numpy(np.array(image, dtype=np.float32))[None, None]   # a copy: inputs may be read-only mmaps
    x, h, w = _pad_to_multiple(x)
    net = (lambda t: predict(model, t, ensemble))
    y = tiled(net, x, tile, default_overlap(tile) if overlap is None else overlap, progress) if tile else net(x)
    return y[0, 0, :h, :w].clamp(0, 1).numpy()
