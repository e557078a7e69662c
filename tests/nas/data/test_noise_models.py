"""The noise models' statistics on controlled inputs, the mixes' seeding, and the named sources."""

import numpy as np
import pytest
import torch

from nas.data import DataError, training_sampler, validation_set
from nas.data.noise_models import (
    RAW_MIX,
    SRGB_MIX,
    BrooksRawNoise,
    IspNoise,
    Jpeg,
    LinearNoise,
    PerPlaneNoise,
    PoissonGaussianNoise,
    Processed,
    ProfileNoise,
    Sharpen,
    SrgbNoise,
    gaussian_noise,
    srgb_to_linear,
)
from nas.data.synthetic import SyntheticSampler
from nas.data.synthetic_mix import NoiseModelSampler


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def flat(level, n=4, c=3, side=64):
    return torch.full((n, c, side, side), level)


def fixed(level, share):
    return {"levels": (level, level), "shot_share": (share, share)}


def neighbour_correlation(residual):
    inner = residual[..., 2:-2, 2:-2]
    inner = inner - inner.mean()
    return float((inner[..., 1:] * inner[..., :-1]).mean() / (inner * inner).mean())


@pytest.mark.parametrize("model", [LinearNoise(**fixed(15, 0.5)), SrgbNoise(**fixed(15, 0.5))])
def test_level_is_the_std_in_8bit_units_at_mid_grey(model):
    noisy, clean = model(flat(0.5), gen())
    assert noisy.shape == clean.shape == (4, 3, 64, 64)
    assert float((noisy - clean).std() * 255) == pytest.approx(15, rel=0.08)


def test_gaussian_noise_has_its_sigma_whatever_the_signal():
    for level in (0.3, 0.7):
        noisy, clean = gaussian_noise(25)(flat(level), gen())
        assert float((noisy - clean).std() * 255) == pytest.approx(25, rel=0.04)


def test_outputs_are_8bit_in_range():
    for model in (IspNoise(), LinearNoise(), SrgbNoise(), gaussian_noise(25)):
        noisy, clean = model(torch.rand(2, 3, 32, 32, generator=gen(5)), gen())
        for x in (noisy, clean):
            assert torch.equal(x, (x * 255).round() / 255) and x.min() >= 0 and x.max() <= 1


def linear_variance_ratio(model, dark=0.3, bright=0.8):
    variances = []
    for level in (dark, bright):
        noisy, clean = model(flat(level), gen(1))
        variances.append(float((srgb_to_linear(noisy) - srgb_to_linear(clean)).var()))
    return variances[1] / variances[0]


def test_linear_shot_noise_grows_with_the_linear_signal_and_read_noise_does_not():
    expected = float(srgb_to_linear(torch.tensor(0.8)) / srgb_to_linear(torch.tensor(0.3)))
    assert linear_variance_ratio(LinearNoise(**fixed(15, 1.0))) == pytest.approx(expected, rel=0.3)
    assert linear_variance_ratio(LinearNoise(**fixed(15, 0.0))) < 1.5


def test_srgb_shot_noise_grows_with_the_srgb_value():
    def ratio(share):
        v = [float((lambda n, c: (n - c).var())(*SrgbNoise(**fixed(15, share))(flat(x), gen())))
             for x in (0.25, 0.75)]  # fmt: skip
        return v[1] / v[0]

    assert ratio(1.0) == pytest.approx(3.0, rel=0.15)
    assert ratio(0.0) == pytest.approx(1.0, rel=0.15)


@pytest.mark.parametrize(
    "model, correlated",
    [(IspNoise(), True), (LinearNoise(**fixed(15, 0.5)), False), (SrgbNoise(), False)],
)
def test_only_the_isp_correlates_neighbours(model, correlated):
    noisy, clean = model(flat(0.5, n=16), gen(2))
    rho = neighbour_correlation(noisy - clean)
    assert rho > 0.2 if correlated else abs(rho) < 0.05


def blockiness(x):
    """Mean jump across the 8 x 8 JPEG block boundaries over the mean jump elsewhere."""
    jumps = (x[..., :, 1:] - x[..., :, :-1]).abs()
    at_boundary = torch.arange(jumps.shape[-1]) % 8 == 7
    return float(jumps[..., at_boundary].mean() / jumps[..., ~at_boundary].mean())


def test_jpeg_blocks_at_low_quality_and_leaves_the_target_alone():
    noisy, clean = gaussian_noise(10)(flat(0.5), gen())
    assert blockiness(noisy) == pytest.approx(1.0, abs=0.1)
    assert blockiness(Jpeg((60, 60))(noisy, gen())) > 1.6
    assert blockiness(Jpeg((100, 100))(noisy, gen())) < 1.15
    jpeg_noisy, jpeg_clean = Processed(gaussian_noise(10), jpeg=Jpeg((60, 60)))(flat(0.5), gen())
    assert torch.equal(jpeg_clean, clean) and not torch.equal(jpeg_noisy, noisy)


def test_jpeg_quality_is_drawn_per_image_from_its_range():
    noisy, _ = gaussian_noise(10)(flat(0.5, n=32), gen())
    out = Jpeg((30, 100))(noisy, gen())
    per_image = [blockiness(image) for image in out]
    assert max(per_image) > 2.0 and min(per_image) < 1.2


def test_sharpening_overshoots_an_edge_on_both_images_alike():
    edge = torch.full((1, 3, 32, 32), 0.3)
    edge[..., 16:] = 0.7
    noisy, clean = Sharpen((0.5, 0.5))([edge, edge.clone()], gen())
    assert torch.equal(noisy, clean)
    assert float(clean.max()) > 0.75 and float(clean.min()) < 0.25
    assert torch.allclose(clean[..., :, :10], edge[..., :, :10], atol=1 / 255)  # flat: untouched


@pytest.mark.parametrize("level", [0.1, 0.6])
def test_poisson_gaussian_variance_is_signal_times_shot_plus_read(level):
    model = PoissonGaussianNoise(shot_sigma=(0.1, 0.1), read_sigma=(0.03, 0.03))
    clean = flat(level, n=8, c=1)
    residual = model(clean, gen()) - clean
    assert float(residual.var()) == pytest.approx(level * 0.1**2 + 0.03**2, rel=0.05)


def test_profile_noise_follows_each_colour_plane():
    profile = (4e-3, 1e-5, 1e-3, 1e-5, 2e-3, 4e-5)  # R, G, B
    clean = flat(0.5, n=8, c=1)
    residual = ProfileNoise(profile)(clean, gen()) - clean
    planes = [residual[..., y::2, x::2].var() for y, x in ((0, 0), (0, 1), (1, 0), (1, 1))]
    expected = [0.5 * s + r for s, r in ((4e-3, 1e-5), (1e-3, 1e-5), (1e-3, 1e-5), (2e-3, 4e-5))]
    assert [float(p) for p in planes] == pytest.approx(expected, rel=0.1)


def test_per_plane_noise_differs_between_colours_but_not_between_the_greens():
    clean = flat(0.5, n=1, c=1, side=256)
    residual = PerPlaneNoise()(clean, gen(3)) - clean
    r, g1, g2, b = (
        float(residual[..., y::2, x::2].std()) for y, x in ((0, 0), (0, 1), (1, 0), (1, 1))
    )
    assert g1 == pytest.approx(g2, rel=0.05)
    assert abs(r / g1 - 1) > 0.1 or abs(b / g1 - 1) > 0.1


def test_brooks_noise_spans_the_papers_levels_and_the_mix_spans_more():
    clean = flat(0.5, n=64, c=1, side=32)
    brooks = (BrooksRawNoise()(clean, gen()) - clean).flatten(1).std(1)
    mix = (RAW_MIX(clean, gen()) - clean).flatten(1).std(1)
    assert float(brooks.max()) < 0.085  # shot <= 0.012 at 0.5: std <= 0.078
    assert float(mix.max()) > 0.1  # CBDNet's range reaches 0.128 at 0.5


def test_srgb_mix_draws_each_samples_own_level():
    noisy, clean = SRGB_MIX(flat(0.5, n=32, side=32), gen())
    levels = (noisy - clean).flatten(1).std(1) * 255
    assert float(levels.max()) > 4 * float(levels.min())


@pytest.mark.parametrize("mix, c", [(SRGB_MIX, 3), (RAW_MIX, 1)])
def test_the_mix_is_reproducible_from_its_seed(mix, c):
    x = torch.rand(8, c, 32, 32, generator=gen(9))
    first, again, other = mix(x, gen(4)), mix(x, gen(4)), mix(x, gen(5))
    for a, b in zip(first, again) if c == 3 else [(first, again)]:
        assert torch.equal(a, b)
    assert not torch.equal(first[0] if c == 3 else first, other[0] if c == 3 else other)


@pytest.mark.parametrize("srgb, noise", [(True, IspNoise()), (False, BrooksRawNoise())])
def test_todays_noise_through_the_new_sampler_is_todays_data_bit_for_bit(srgb, noise):
    old = SyntheticSampler(srgb=srgb).sample(6, 32, gen(11))
    new = NoiseModelSampler(noise, srgb=srgb).sample(6, 32, gen(11))
    assert all(torch.equal(a, b) for a, b in zip(old, new))


@pytest.mark.parametrize("source, channels", [("synthetic-srgb-mix", 3), ("synthetic-mix", 1)])
def test_mix_sources_train_and_validate_reproducibly(source, channels):
    noisy, clean = training_sampler(source, channels).sample(4, 32, gen())
    assert noisy.shape == clean.shape == (4, channels, 32, 32)
    first, again = validation_set(source, 4, 32), validation_set(source, 4, 32)
    assert first.channels == channels and first.source == source
    np.testing.assert_array_equal(first.noisy[3], again.noisy[3])
    with pytest.raises(DataError, match="takes no argument"):
        training_sampler(f"{source}:x")
