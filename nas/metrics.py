"""Image quality metrics per block, as the NTIRE 2020 / SIDD benchmarks compute them.

Raw mosaics (H x W): PSNR with peak 1.0 and SSIM with data range 1.0 on the normalized values.
sRGB images (3 x H x W): the SIDD sRGB protocol. The prediction is stored as 8 bits (rounded to
[0, 255], as a submitted PNG or .mat is), PSNR is taken over all three channels with peak 255,
and SSIM is the mean of the three channels' SSIM with data range 255.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr_db", "ssim"]

_MIN_MSE = 1e-12  # caps a perfect block at 120 dB instead of infinity, so means stay finite


def _on_protocol_scale(
    prediction: np.ndarray, target: np.ndarray, srgb: bool
) -> tuple[np.ndarray, np.ndarray, float]:
    """(prediction, target, peak) in float64 on the scale the block's protocol measures."""
    prediction, target = np.asarray(prediction, np.float64), np.asarray(target, np.float64)
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} differ in shape")
    if not srgb:
        return prediction, target, 1.0
    return np.round(np.clip(prediction, 0, 1) * 255), target * 255, 255.0


def psnr_db(prediction: np.ndarray, target: np.ndarray, srgb: bool = False) -> float:
    """PSNR in dB of one block: a raw mosaic with peak 1.0, or with ``srgb`` an sRGB image
    (3 x H x W in [0, 1]) by the SIDD sRGB protocol (8-bit prediction, peak 255). Mean squared
    error in float64."""
    prediction, target, peak = _on_protocol_scale(prediction, target, srgb)
    mse = np.mean((prediction - target) ** 2) / peak**2
    return float(10.0 * np.log10(1.0 / max(mse, _MIN_MSE)))


def ssim(prediction: np.ndarray, target: np.ndarray, srgb: bool = False) -> float:
    """SSIM of one block as the SIDD benchmark computes it (MATLAB's ``ssim``: an 11 x 11 Gaussian
    window of sigma 1.5, population covariance), through scikit-image's implementation: a 2-D
    mosaic, or with ``srgb`` the mean over the channels of a 3 x H x W image on the 8-bit scale."""
    from skimage.metrics import structural_similarity

    prediction, target, peak = _on_protocol_scale(prediction, target, srgb)
    channel_axis = 0 if srgb else None
    return float(
        structural_similarity(
            target,
            prediction,
            data_range=peak,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=channel_axis,
        )
    )
