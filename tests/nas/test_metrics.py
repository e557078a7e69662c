import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from nas.metrics import psnr_db, ssim


def matlab_ssim(x, y):
    """SSIM as MATLAB's ``ssim`` (the SIDD benchmark's) defines it, written out independently:
    11 x 11 Gaussian window of sigma 1.5, population (co)variances, K1 = 0.01, K2 = 0.03, L = 1;
    the map is averaged away from the 5-pixel border the window cannot cover."""

    def blur(a):
        return gaussian_filter(a, sigma=1.5, truncate=3.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return index[5:-5, 5:-5].mean()


def test_ssim_is_the_sidd_benchmarks_gaussian_ssim():
    rng = np.random.default_rng(0)
    clean = gaussian_filter(rng.random((64, 64)), 2)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    assert ssim(noisy, clean) == pytest.approx(matlab_ssim(noisy, clean), abs=1e-6)
    assert ssim(clean, clean) == pytest.approx(1.0)


def test_psnr_peak_one():
    a = np.zeros((8, 8))
    assert psnr_db(a + 0.1, a) == pytest.approx(20.0)


def test_srgb_psnr_is_on_the_8bit_scale_over_all_channels():
    target = np.full((3, 8, 8), 100 / 255)
    off_by_one_level = target + 1 / 255
    assert psnr_db(off_by_one_level, target, srgb=True) == pytest.approx(
        20 * np.log10(255), abs=1e-9
    )
    # The prediction is stored as 8 bits: 0.4 of a level rounds away, 0.6 rounds to one level.
    assert psnr_db(target + 0.4 / 255, target, srgb=True) == pytest.approx(120.0)
    assert psnr_db(target + 0.6 / 255, target, srgb=True) == pytest.approx(
        20 * np.log10(255), abs=1e-9
    )
    one_channel_off = target.copy()
    one_channel_off[1] += 3 / 255
    assert psnr_db(one_channel_off, target, srgb=True) == pytest.approx(
        10 * np.log10(255**2 / 3), abs=1e-9
    )


def test_srgb_ssim_is_the_mean_over_channels_on_the_8bit_scale():
    rng = np.random.default_rng(1)
    clean = np.round(gaussian_filter(rng.random((3, 48, 48)), (0, 2, 2)) * 255) / 255
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    stored = np.round(noisy * 255) / 255
    per_channel = [
        matlab_ssim(stored[c], clean[c]) for c in range(3)
    ]  # the 8-bit scale changes nothing but L
    assert ssim(noisy, clean, srgb=True) == pytest.approx(np.mean(per_channel), abs=1e-6)
