"""Inference: the x8 self-ensemble in its two protocols (the paper's plain views and the
phase-correct ones; batched), tiled inference for full-size mosaics and sRGB images, and Bayer
unification of inputs in another CFA pattern than the network's."""

from __future__ import annotations

from typing import Callable, Literal, get_args

import numpy as np
import torch

from models import SIZE_MULTIPLE, WaveletUNet

from .data.bayer import DEFAULT_PATTERN, pattern_after, restore, unify_pad
from .data.samplers import fits_channels, layout_of
from .data.sources import describe_channels
from .device import to_device
from .errors import DataError, UserError

__all__ = [
    "VIEWS",
    "EnsembleProtocol",
    "ENSEMBLE_PROTOCOLS",
    "DEFAULT_ENSEMBLE_PROTOCOL",
    "EnsembleProtocolError",
    "check_ensemble_protocol",
    "TilingError",
    "check_tiling",
    "default_overlap",
    "self_ensemble",
    "predict",
    "tiled",
    "tile_count",
    "denoise_array",
    "PatternAligned",
    "network_channels",
]

Net = Callable[[torch.Tensor], torch.Tensor]

# The x8 views of the paper: rotations by 0, 90, 180, 270 degrees, each with and without a
# left-right flip of the rotated image.
VIEWS = [(k, flip) for k in range(4) for flip in (False, True)]

# How the x8 views of a mosaic meet the network. "paper": each view as it is (the protocol the
# paper's released network was scored with); "phase": each view re-aligned to the network's CFA
# pattern first. The default is the one that scores better on our trained networks
# (bench/README.md, "The two ensemble protocols").
EnsembleProtocol = Literal["paper", "phase"]
ENSEMBLE_PROTOCOLS: tuple[EnsembleProtocol, ...] = get_args(EnsembleProtocol)
DEFAULT_ENSEMBLE_PROTOCOL: EnsembleProtocol = "phase"


class EnsembleProtocolError(UserError):
    """An ensemble protocol name that is not one of :data:`ENSEMBLE_PROTOCOLS`."""


def check_ensemble_protocol(name: str) -> EnsembleProtocol:
    """``name`` as an :data:`EnsembleProtocol`; EnsembleProtocolError for any other name."""
    if name not in ENSEMBLE_PROTOCOLS:
        raise EnsembleProtocolError(
            f"ensemble protocol {name!r}: expected one of {', '.join(ENSEMBLE_PROTOCOLS)}"
        )
    return name


def network_channels(model: torch.nn.Module) -> int:
    """The channels a (possibly wrapped) wavelet network takes: 1 (raw mosaic) or 3 (sRGB)."""
    for module in model.modules():
        if isinstance(module, WaveletUNet):
            return module.spec.in_channels
    raise TypeError(f"{type(model).__name__} holds no wavelet network")


def _forward_view(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1))
    return x.flip(-1) if flip else x


def _inverse_view(y: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    y = y.flip(-1) if flip else y
    return torch.rot90(y, -k, dims=(-2, -1))


def self_ensemble(
    net: Net,
    x: torch.Tensor,
    batched: bool = True,
    pattern: str | None = DEFAULT_PATTERN,
    protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
) -> torch.Tensor:
    """Average of ``net`` over the 8 views of ``x`` (N x C x H x W, a mosaic in ``pattern``, the
    network's, or with ``pattern`` None an sRGB image, whose every view is valid as it is),
    mapped back and clipped to [0, 1]. A view is ``x`` rotated by 0, 90, 180 or 270 degrees, then
    flipped left-right or not.

    A rotated or flipped mosaic is generally in another CFA pattern (6 of the 8 views of an RGGB
    mosaic are). ``protocol`` "paper" feeds every view to the network as it is, as the paper's
    released network was scored. "phase" reflect-pads each such view by one row and/or column
    into ``pattern`` before the network and cuts it back after it (Liu et al. 2019), so the
    network only ever sees its own pattern. For an sRGB image (``pattern`` None) the two
    protocols are the same. Either pads a view to a size the network accepts (a no-op for sides
    that are multiples of 8). ``batched`` runs views of one padded shape in a single forward
    pass; ``batched=False`` runs them one at a time (less memory).
    """
    phase = check_ensemble_protocol(protocol) == "phase"
    n = x.shape[0]
    total = torch.zeros_like(x)
    groups: dict[tuple, list] = {}
    for k, flip in VIEWS:
        view = _forward_view(x, k, flip)
        view_pattern = (
            pattern_after(pattern, lambda t: _forward_view(t, k, flip), tuple(x.shape[-2:]))
            if phase
            else pattern
        )
        padded, window = unify_pad(view, view_pattern, pattern, multiple=SIZE_MULTIPLE)
        groups.setdefault(tuple(padded.shape) if batched else (k, flip), []).append(
            (k, flip, padded, window)
        )
    for group in groups.values():
        outputs = net(torch.cat([padded for _, _, padded, _ in group]))
        for i, (k, flip, _, window) in enumerate(group):
            total += _inverse_view(restore(outputs[i * n : (i + 1) * n], window), k, flip)
    return (total / len(VIEWS)).clamp(0, 1)


def predict(
    net: Net,
    x: torch.Tensor,
    ensemble: bool = False,
    pattern: str | None = DEFAULT_PATTERN,
    ensemble_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
) -> torch.Tensor:
    """One denoised batch (mosaics in ``pattern``, the network's; None for sRGB), clipped to
    [0, 1]; with ``ensemble`` the x8 self-ensemble in ``ensemble_protocol``."""
    if not ensemble:
        return net(x).clamp(0, 1)
    return self_ensemble(net, x, pattern=pattern, protocol=ensemble_protocol)


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


class TilingError(UserError):
    """A tile size or overlap that tiled inference cannot use."""


def default_overlap(tile: int) -> int:
    """32 pixels of overlap, or less for small tiles: at most half the tile, a multiple of 8."""
    return min(32, (tile // 2) // SIZE_MULTIPLE * SIZE_MULTIPLE)


def check_tiling(tile: int, overlap: int) -> None:
    """TilingError unless ``tile`` is a positive multiple of 8 and ``overlap`` a multiple of 8 in
    [0, tile)."""
    if tile <= 0 or tile % SIZE_MULTIPLE:
        raise TilingError(f"tile size must be a positive multiple of {SIZE_MULTIPLE}, got {tile}")
    if not 0 <= overlap < tile or overlap % SIZE_MULTIPLE:
        raise TilingError(
            f"tile overlap must be a multiple of {SIZE_MULTIPLE} in [0, {tile}), got {overlap}"
        )


def tiled(
    net: Net,
    x: torch.Tensor,
    tile: int,
    overlap: int = 32,
    progress: Callable | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Run ``net`` on overlapping ``tile x tile`` windows of ``x`` (1 x C x H x W, H and W multiples
    of 8) and blend them. Tile origins are multiples of 8, so each tile sees the same Haar grid and
    Bayer phase as the whole image. The image and the blend stay where ``x`` is (the CPU); only
    one window at a time goes to ``device`` (the network's), so the GPU's memory follows the tile
    size, not the image."""
    check_tiling(tile, overlap)
    h, w = x.shape[-2:]
    stride = tile - overlap
    ys, xs = _starts(h, tile, stride), _starts(w, tile, stride)
    out = torch.zeros_like(x)
    weight = torch.zeros(h, w, dtype=x.dtype)
    for y in ys:
        for x0 in xs:
            th, tw = min(tile, h), min(tile, w)
            window = (
                net(to_device(x[..., y : y + th, x0 : x0 + tw], device or x.device))
                .float()
                .to(x.device)
            )
            wy = _edge_ramp(th, overlap, y > 0, y + th < h)
            wx = _edge_ramp(tw, overlap, x0 > 0, x0 + tw < w)
            blend = (wy[:, None] * wx[None, :]).to(x.dtype)
            out[..., y : y + th, x0 : x0 + tw] += window * blend
            weight[y : y + th, x0 : x0 + tw] += blend
            if progress:
                progress(1)
    return out / weight


def tile_count(height: int, width: int, tile: int, overlap: int) -> int:
    """How many tiles :func:`denoise_array` runs for a ``height x width`` mosaic (in the network's
    pattern; one in another pattern may be 8 pixels larger once unified)."""
    h, w = height + (-height % SIZE_MULTIPLE), width + (-width % SIZE_MULTIPLE)
    return len(_starts(h, tile, tile - overlap)) * len(_starts(w, tile, tile - overlap))


@torch.inference_mode()
def denoise_array(
    model: torch.nn.Module,
    image: np.ndarray,
    ensemble: bool = False,
    tile: int | None = None,
    overlap: int | None = None,
    progress: Callable | None = None,
    pattern: str | None = None,
    model_pattern: str | None = DEFAULT_PATTERN,
    ensemble_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
) -> np.ndarray:
    """Denoise one image of any size in the layout of the network's channels: a raw mosaic
    (H x W) for a 1-channel network, an sRGB image (3 x H x W) for a 3-channel one (anything else
    is a DataError); ``overlap`` defaults to :func:`default_overlap`; ``ensemble``: the x8
    self-ensemble in ``ensemble_protocol`` (per tile when tiling).

    A mosaic is in CFA ``pattern`` (default: the network's, ``model_pattern``). It is unified
    into the network's pattern and to a multiple of 8 by reflect padding, denoised, and cut back,
    so the result has the input's size and pattern. An sRGB image has no pattern: it is only
    padded to a multiple of 8."""
    protocol = check_ensemble_protocol(ensemble_protocol)
    channels = network_channels(model)
    if not fits_channels(np.asarray(image), channels):
        raise DataError(
            f"the network takes {describe_channels(channels)}, each {layout_of(channels)}; "
            f"got an array of shape {np.shape(image)}"
        )
    x = torch.from_numpy(np.array(image, dtype=np.float32))  # a copy: inputs may be read-only mmaps
    mosaic = channels == 1
    x = x[None, None] if mosaic else x[None]
    if not mosaic:
        pattern = model_pattern = None
    x, window = unify_pad(x, pattern or model_pattern, model_pattern, multiple=SIZE_MULTIPLE)
    device = next(model.parameters()).device

    def net(t):
        return predict(model, t, ensemble, pattern=model_pattern, ensemble_protocol=protocol)

    if tile:
        y = tiled(
            net, x, tile, default_overlap(tile) if overlap is None else overlap, progress, device
        )
    else:
        y = net(to_device(x, device)).float().cpu()
    y = restore(y, window)[0].clamp(0, 1).numpy()
    return y[0] if mosaic else y


class PatternAligned(torch.nn.Module):
    """A network trained on ``model_pattern`` presented as one for ``pattern`` mosaics: each input
    batch is reflect-padded into the network's pattern and its output cut back. Lets code that
    assumes one pattern (the scoring loop, the default ensemble) run any network unchanged."""

    def __init__(self, model: torch.nn.Module, pattern: str, model_pattern: str) -> None:
        super().__init__()
        self.model, self.pattern, self.model_pattern = model, pattern, model_pattern

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded, window = unify_pad(x, self.pattern, self.model_pattern, multiple=SIZE_MULTIPLE)
        return restore(self.model(padded), window)
