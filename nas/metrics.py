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
    """SSIM of one 2-D block with data range 1.0, as the SIDD benchmark computes it (MATLAB's
    ``ssim``: an 11 x 11 Gaussian window of sigma 1.5, population covariance), through
    scikit-image's implementation."""
    from skimage.metrics import structural_similarity
    return float(structural_similarity(np.asarray(target, np.float64), np.asarray(prediction, np.float64),
                                       data_range=1.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))
