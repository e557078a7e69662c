"""Image quality metrics, as the NTIRE raw track computes them: per block, peak 1.0."""
from __future__ import annotations

import numpy as np

__all__ = ["psnr_db", "ssim"]

_MIN_MSE = 1e-12   # caps a perfect block at 120 dB instead of infinity, so means stay finite


def psnr_db(prediction: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB with peak 1.0 of one block (mean squared error in float64)."""
    mse = np.mean((np.asarray(prediction, np.float64) - np.asarray(target, np.float64)) ** 2)
    return float(10.0 * np.log10(1.0 / max(mse, _MIN_MSE)))


def ssim(prediction: np.ndarray, target: np.ndarray) -> float:
    """SSIM of one 2-D block with data range 1.0 (scikit-image's implementation, Wang et al. 2004)."""
    from skimage.metrics import structural_similarity
    return float(structural_similarity(np.asarray(target, np.float32), np.asarray(prediction, np.float32),
                                       data_range=1.0))
