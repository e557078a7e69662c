"""Scoring a model on a fixed block set: per-block PSNR and SSIM as a pandas table."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .data import BlockSet, check_channels
from .data.bayer import DEFAULT_PATTERN
from .device import to_device
from .inference import (
    DEFAULT_ENSEMBLE_PROTOCOL,
    EnsembleProtocol,
    check_ensemble_protocol,
    denoise_array,
    network_channels,
    predict,
)
from .metrics import psnr_db, ssim

__all__ = ["evaluate_blocks", "summarize"]


@torch.inference_mode()
def evaluate_blocks(
    model: torch.nn.Module,
    blocks: BlockSet,
    ensemble: bool = False,
    tile: int | None = None,
    overlap: int | None = None,
    batch_size: int = 8,
    with_ssim: bool = True,
    progress: bool = False,
    ensemble_protocol: EnsembleProtocol = DEFAULT_ENSEMBLE_PROTOCOL,
) -> pd.DataFrame:
    """One row per block: ``block``, ``psnr``, ``ssim``, ``noisy_psnr``, ``seconds`` and
    ``ensemble_protocol`` (the x8 protocol, or None without ``ensemble``).

    Blocks (raw mosaics or sRGB images) of one shape that is a multiple of 8 are batched; others
    (and all blocks when tiling) go one at a time through :func:`denoise_array`. PSNR and SSIM
    follow :mod:`.metrics` (the SIDD sRGB protocol for sRGB blocks).
    """
    protocol = check_ensemble_protocol(ensemble_protocol)
    model.eval()
    device = next(model.parameters()).device
    mosaic = blocks.channels == 1
    check_channels(network_channels(model), blocks.channels, blocks.source)
    by_shape = defaultdict(list)
    for i, block in enumerate(blocks.noisy):
        by_shape[
            block.shape if (not tile and all(s % 8 == 0 for s in block.shape[-2:])) else None
        ].append(i)
    outputs, seconds = {}, {}
    bar = tqdm(total=len(blocks), desc="evaluate", unit="block", disable=not progress)
    for shape, indices in by_shape.items():
        step = batch_size if shape is not None else 1
        for start in range(0, len(indices), step):
            chunk = indices[start : start + step]
            began = time.perf_counter()
            if shape is None:
                results = [
                    denoise_array(
                        model,
                        blocks.noisy[chunk[0]],
                        ensemble,
                        tile,
                        overlap,
                        ensemble_protocol=protocol,
                    )
                ]
            else:
                x = torch.from_numpy(np.stack([blocks.noisy[i] for i in chunk]).astype(np.float32))
                x = x[:, None] if mosaic else x
                y = predict(
                    model,
                    to_device(x, device),
                    ensemble,
                    pattern=DEFAULT_PATTERN if mosaic else None,
                    ensemble_protocol=protocol,
                )
                results = list((y[:, 0] if mosaic else y).float().cpu().numpy())
            elapsed = (time.perf_counter() - began) / len(chunk)
            for i, out in zip(chunk, results):
                outputs[i], seconds[i] = out, elapsed
            bar.update(len(chunk))
    bar.close()
    rows = []
    for i in range(len(blocks)):
        clean = blocks.clean[i]
        rows.append(
            {
                "block": i,
                "psnr": psnr_db(outputs[i], clean, srgb=not mosaic),
                "ssim": ssim(outputs[i], clean, srgb=not mosaic) if with_ssim else float("nan"),
                "noisy_psnr": psnr_db(np.clip(blocks.noisy[i], 0, 1), clean, srgb=not mosaic),
                "seconds": seconds[i],
                "ensemble_protocol": protocol if ensemble else None,
            }
        )
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> dict:
    """Mean PSNR and SSIM over blocks (the paper's average), block count and total time."""
    return {
        "psnr": float(table["psnr"].mean()),
        "ssim": float(table["ssim"].mean()),
        "noisy_psnr": float(table["noisy_psnr"].mean()),
        "blocks": int(len(table)),
        "seconds": float(table["seconds"].sum()),
    }
