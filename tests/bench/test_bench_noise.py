"""bench/bench_noise.py's classical references on fixed images: the Gaussian blur's analytic
noise reduction, and NL-means' and BM3D's figures recorded with scikit-image 0.26 and bm3d 4.0.3
on a fixed crop of a bundled photo with fixed noise."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from scipy.ndimage import gaussian_filter

from nas.metrics import psnr_db

_PATH = Path(__file__).resolve().parents[2] / "bench" / "bench_noise.py"
_SPEC = importlib.util.spec_from_file_location("bench_noise", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

SIGMA = 25 / 255


@pytest.fixture(scope="module")
def chelsea_awgn():
    """A 64 x 64 crop of the cat, 3 x H x W, with white Gaussian noise of 25 (8-bit), seed 0."""
    clean = skimage.data.chelsea()[100:164, 200:264].transpose(2, 0, 1) / 255.0
    return clean + np.random.default_rng(0).standard_normal(clean.shape) * SIGMA, clean


def gain_db(output, noisy, clean, srgb=True):
    return psnr_db(np.clip(output, 0, 1), clean, srgb) - psnr_db(np.clip(noisy, 0, 1), clean, srgb)


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_blur_reduces_white_noise_by_its_kernels_norm(sigma):
    rng = np.random.default_rng(1)
    clean = np.full((3, 256, 256), 0.5)
    noisy = clean + rng.standard_normal(clean.shape) * 0.02
    impulse = np.zeros((65, 65))
    impulse[32, 32] = 1
    expected = -20 * np.log10(np.sqrt((gaussian_filter(impulse, sigma) ** 2).sum()))
    measured = gain_db(bench.gaussian_blur(noisy, sigma, True), noisy, clean, srgb=False)
    assert measured == pytest.approx(expected, abs=0.15)  # 1/(2 sqrt(pi) sigma): 11.0, 17.0 dB


def test_raw_references_work_per_cfa_plane():
    mosaic = np.zeros((16, 16))
    mosaic[0::2, 0::2] = 1.0  # red sites only
    assert np.array_equal(bench.unpack(bench.pack(mosaic)), mosaic)
    np.testing.assert_allclose(bench.gaussian_blur(mosaic, 2.0, False), mosaic, atol=1e-12)
    np.testing.assert_allclose(bench.nl_means(mosaic, 0.01, 0.01, False), mosaic, atol=1e-6)


def test_references_reproduce_their_recorded_figures(chelsea_awgn):
    noisy, clean = chelsea_awgn
    assert psnr_db(np.clip(noisy, 0, 1), clean, True) == pytest.approx(20.367, abs=0.01)
    blur = psnr_db(np.clip(bench.gaussian_blur(noisy, 1.0, True), 0, 1), clean, True)
    nlm = psnr_db(np.clip(bench.nl_means(noisy, 0.8 * SIGMA, SIGMA, True), 0, 1), clean, True)
    assert blur == pytest.approx(27.936, abs=0.05)
    assert nlm == pytest.approx(27.990, abs=0.05)


def test_bm3d_reproduces_its_recorded_figure_and_beats_the_others(chelsea_awgn):
    pytest.importorskip("bm3d")
    noisy, clean = chelsea_awgn
    bm3d = psnr_db(np.clip(bench.bm3d_denoise(noisy, SIGMA, True), 0, 1), clean, True)
    nlm = psnr_db(np.clip(bench.nl_means(noisy, 0.8 * SIGMA, SIGMA, True), 0, 1), clean, True)
    assert bm3d == pytest.approx(29.957, abs=0.05)
    assert bm3d > nlm + 1.0  # on white Gaussian noise, what BM3D is built for


def test_best_setting_is_the_one_with_the_best_mean_psnr(chelsea_awgn):
    noisy, clean = chelsea_awgn
    pairs = [(noisy, clean)]
    setting, psnr, _ = bench.best_setting(
        lambda n, c, s, srgb: bench.gaussian_blur(n, s, srgb), (0.3, 1.0, 3.0), pairs, True
    )
    assert setting == 1.0 and psnr == pytest.approx(27.936, abs=0.05)


def test_true_sigma_is_the_rms_of_the_noise(chelsea_awgn):
    noisy, clean = chelsea_awgn
    assert bench.true_sigma(noisy, clean) == pytest.approx(SIGMA, rel=0.03)
