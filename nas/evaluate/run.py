"""``evaluate``: a denoiser scored on fixed validation blocks, from Python.

from nas.evaluate import evaluate
result = evaluate("mwrcanet_paper", weights="dn_mwrcanet_raw_c1.pth",
                  data="siddplus-val:DIR", ensemble=True, ensemble_protocol="paper")
result.psnr, result.table    # the mean PSNR (dB) and the per-block table
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..arch import is_named, load_denoiser
from ..atomic import atomic_write_text
from ..cli import UsageError
from ..data import BlockSet, default_source, source_channels, validation_set
from ..data.bayer import DEFAULT_PATTERN, parse_pattern, unify_crop
from ..device import resolve_device
from ..inference import (
    DEFAULT_ENSEMBLE_PROTOCOL,
    EnsembleProtocol,
    PatternAligned,
    check_ensemble_protocol,
    check_tiling,
    default_overlap,
    network_channels,
)
from ..scoring import evaluate_blocks, summarize

__all__ = ["EvaluationResult", "evaluate"]

log = logging.getLogger("nas.evaluate")


@dataclass(frozen=True)
class EvaluationResult:
    """A denoiser's scores on a validation set: whether the x8 ensemble ran and in which
    protocol (None without it), the means over blocks (PSNR and SSIM in dB and [0, 1]; SSIM is
    NaN where skipped), the noisy input's PSNR, the block count, the seconds of inference, and
    the per-block table (one row per block: block, psnr, ssim, noisy_psnr, seconds,
    ensemble_protocol)."""

    data: str
    ensemble: bool
    ensemble_protocol: EnsembleProtocol | None
    psnr: float
    ssim: float
    noisy_psnr: float
    blocks: int
    seconds: float
    table: pd.DataFrame = field(repr=False)
    out: Path | None = None

    def summary(self) -> pd.DataFrame:
        """The one-row summary the command prints: data, ensemble, its protocol and the
        means."""
        names = (
            "data",
            "ensemble",
            "ensemble_protocol",
            "psnr",
            "ssim",
            "noisy_psnr",
            "blocks",
            "seconds",
        )
        return pd.DataFrame([{name: getattr(self, name) for name in names}])


def evaluate(
    arch: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    data: str | None = None,
    cfa: str | None = None,
    blocks: int | None = None,
    block_size: int = 128,
    ensemble: bool = False,
    ensemble_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = 8,
    ssim: bool = True,
    device: str = "auto",
    out: str | os.PathLike | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Score ``arch`` (with ``weights``) on the validation blocks of ``data``.

    ``arch``: a named architecture (built for ``data``'s channels), a spec/genome/``best.json``
    file, or a model file. ``data``: ``synthetic``, ``sidd-val:DIR``, ``siddplus-val:DIR``,
    ``pairs:DIR``; for sRGB networks ``synthetic-srgb``, ``sidd-srgb-val:DIR`` (default: the
    synthetic set for the network's channels). ``cfa``: the blocks' CFA pattern (default: the
    network's). ``blocks``: an evenly spaced subset of this many blocks; ``block_size``: the
    synthetic set's block side. ``ensemble``: the x8 self-ensemble, in ``ensemble_protocol``
    ("paper": the views as they are, as the paper scored its network; "phase": each view
    re-aligned to the network's CFA pattern; see :func:`nas.inference.self_ensemble`). ``tile``
    (and ``overlap``, default 32 or at most half the tile): tiled inference. ``ssim=False``
    skips SSIM. ``out``: also write the per-block table as CSV.

    Raises ArchError, WeightsError, DataError, TilingError, UsageError or FileNotFoundError for
    unusable inputs; logs a warning when an untrained network is evaluated.
    """
    arch = os.fspath(arch)
    protocol = check_ensemble_protocol(ensemble_protocol)
    cfa = parse_pattern(cfa) if cfa else None
    if tile is not None:
        check_tiling(tile, default_overlap(tile) if overlap is None else overlap)
    elif overlap is not None:
        raise UsageError("--overlap needs --tile")
    if out and not Path(out).parent.is_dir():
        raise FileNotFoundError(f"--out: folder not found: {Path(out).parent}")
    model, model_pattern = load_denoiser(
        arch, weights, resolve_device(device), _named_channels(arch, data, block_size)
    )
    if weights is None and not arch.endswith((".pt", ".pth")):
        log.warning("warning: no --weights given, evaluating an untrained network")
    channels = network_channels(model)
    if cfa and channels != 1:
        raise UsageError("--cfa is for raw mosaics; this network takes sRGB images")
    block_set = validation_set(data or default_source(channels), blocks, block_size, channels)
    if channels == 1:
        target = _scoring_pattern(model_pattern, cfa or model_pattern, ensemble, protocol)
        model, block_set = _unified(model, model_pattern, block_set, cfa or model_pattern, target)
    table = evaluate_blocks(
        model,
        block_set,
        ensemble=ensemble,
        ensemble_protocol=protocol,
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        with_ssim=ssim,
        progress=progress,
    )
    if out:
        atomic_write_text(out, table.to_csv(index=False))
    return EvaluationResult(
        data=block_set.source,
        ensemble=ensemble,
        ensemble_protocol=protocol if ensemble else None,
        table=table,
        out=Path(out) if out else None,
        **summarize(table),
    )


def _named_channels(arch: str, data: str | None, block_size: int) -> int | None:
    """What a named ``arch`` is built for: the channels ``data`` holds (its files decide for
    pairs:DIR: read once here); None (raw) without ``data`` or for a network file."""
    if not data or not is_named(arch):
        return None
    known = source_channels(data)
    return known if known is not None else validation_set(data, 1, block_size).channels


def _scoring_pattern(
    model_pattern: str, data_pattern: str, ensemble: bool, protocol: EnsembleProtocol
) -> str:
    """The pattern the blocks are scored in: the network's own for the paper's plain views and
    for a single pass on blocks already in it; otherwise RGGB, the pattern the scoring loop's
    phase-correct ensemble re-aligns its views to."""
    if ensemble and protocol == "paper":
        return model_pattern
    if data_pattern == model_pattern and not ensemble:
        return model_pattern
    return DEFAULT_PATTERN


def _unified(model, model_pattern: str, blocks: BlockSet, data_pattern: str, target: str):
    """Blocks in another pattern than ``target`` are cropped into it (noisy and clean alike),
    and a network trained on another pattern is wrapped to take ``target``."""
    if data_pattern != target:
        log.info(
            f"note: {data_pattern} blocks are cropped into {target} by one row/column at each "
            "end where needed"
        )
        noisy, clean = (
            [unify_crop(b, data_pattern, target) for b in arrays]
            for arrays in (blocks.noisy, blocks.clean)
        )
        blocks = BlockSet(noisy, clean, blocks.source, blocks.channels)
    if model_pattern != target:
        model = PatternAligned(model, target, model_pattern)
    return model, blocks
