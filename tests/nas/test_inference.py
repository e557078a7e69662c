import numpy as np
import pytest
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.inference import (
    DEFAULT_ENSEMBLE_PROTOCOL,
    TilingError,
    denoise_array,
    predict,
    self_ensemble,
    tiled,
)
from nas.metrics import psnr_db, ssim


def tiny_model(block="rcab", num_blocks=1):
    torch.manual_seed(0)
    spec = ArchSpec(
        widths=(8, 8, 8), groups=tuple(GroupSpec(block, num_blocks) for _ in GROUP_NAMES)
    )
    return build_model(spec).eval()


@pytest.mark.parametrize("shape", [(2, 1, 16, 16), (1, 1, 16, 24)])
def test_batched_ensemble_equals_per_view_loop(shape):
    model = tiny_model()
    x = torch.rand(shape)
    with torch.no_grad():
        torch.testing.assert_close(
            self_ensemble(model, x, batched=True),
            self_ensemble(model, x, batched=False),
            rtol=0,
            atol=1e-6,
        )


def test_ensemble_inverts_each_view():
    # An equivariant "network" (pointwise) must give back its own output exactly.
    x = torch.rand(1, 1, 16, 24)
    torch.testing.assert_close(self_ensemble(lambda t: t * 0.5, x), (x * 0.5).clamp(0, 1))

    # A position-dependent one must not (a test that the views really differ).
    def ramp(t):
        return t * 0 + torch.linspace(0, 1, t.shape[-1])

    assert not torch.allclose(self_ensemble(ramp, x), ramp(x))


def test_tiled_equals_untiled_for_local_network():
    # Without blocks the net is six 3x3 convs at scales 2, 4, 8, 8, 4, 2: a receptive-field radius
    # of 28 px. Blending gives zero weight to the overlap/4 = 32 px next to an inner tile edge, so
    # every kept pixel saw its whole receptive field and tiled must equal untiled to float32
    # rounding. Networks with RCABs pool globally, so for them tiling is an approximation (next
    # test).
    model = tiny_model("residual", num_blocks=0)
    x = torch.rand(1, 1, 264, 400)
    with torch.no_grad():
        whole = model(x)
        torch.testing.assert_close(tiled(model, x, tile=192, overlap=128), whole, rtol=0, atol=1e-5)


def test_tiled_rcab_is_close_and_seamless():
    model = tiny_model("rcab")
    x = torch.rand(1, 1, 128, 128)
    with torch.no_grad():
        whole = model(x)
        parts = tiled(model, x, tile=64, overlap=32)
    assert psnr_db(parts.numpy(), whole.numpy()) > 40


def test_denoise_array_handles_any_size():
    model = tiny_model()
    image = np.random.default_rng(0).random((37, 50)).astype(np.float32)
    out = denoise_array(model, image, tile=32, overlap=8)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(denoise_array(model, image, ensemble=True).shape, image.shape)


@pytest.mark.parametrize("tile, overlap", [(30, 8), (64, 64), (64, 12)])
def test_tiled_rejects_bad_geometry(tile, overlap):
    with pytest.raises(TilingError, match="tile"):
        tiled(tiny_model(), torch.rand(1, 1, 64, 64), tile, overlap)


def test_psnr_and_ssim_known_values():
    target = np.zeros((8, 8), np.float32)
    assert psnr_db(target + 0.1, target) == pytest.approx(20.0)
    assert psnr_db(target, target) == pytest.approx(120.0)
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    assert ssim(image, image) == pytest.approx(1.0)
    assert (
        ssim(
            image,
            np.clip(image + 0.2 * np.random.default_rng(1).standard_normal(image.shape), 0, 1),
        )
        < 0.9
    )


def test_predict_clips_output():
    out = predict(lambda t: t * 3 - 1, torch.rand(1, 1, 8, 8))
    assert out.min() >= 0 and out.max() <= 1


def site_weights(pattern):
    """A network that is only right on ``pattern`` mosaics: it scales each pixel by the weight of
    the colour that ``pattern`` puts at its site (R 1.0, G 0.5, B 0.25)."""
    weight = {"R": 1.0, "G": 0.5, "B": 0.25}
    cell = torch.tensor([weight[c] for c in pattern]).view(2, 2)

    def net(t):
        h, w = t.shape[-2:]
        return t * cell.repeat((h + 1) // 2, (w + 1) // 2)[:h, :w]

    return net


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
@pytest.mark.parametrize("shape", [(1, 1, 16, 16), (2, 1, 16, 24)])
def test_ensemble_shows_the_network_only_its_own_pattern(pattern, shape):
    # Every view is re-aligned to the network's pattern, so a network that weights colours by
    # site gives, averaged over the 8 views, exactly its plain output. Without re-alignment
    # 6 of the 8 views put the wrong colours on its sites.
    net = site_weights(pattern)
    x = torch.rand(shape)
    for batched in (True, False):
        torch.testing.assert_close(
            self_ensemble(net, x, batched=batched, pattern=pattern),
            net(x).clamp(0, 1),
            rtol=0,
            atol=1e-6,
        )


@pytest.mark.parametrize("ensemble", [False, True])
def test_rggb_network_on_bggr_mosaic_equals_equivalent_rggb_crop(ensemble):
    # A randomly initialised network suffices: the equality is a property of unification, not of
    # training. The BGGR mosaic is the RGGB one without its border; unified (reflect-padded by one
    # pixel), it is exactly the RGGB mosaic again, so the outputs agree on the shared pixels.
    model = tiny_model()
    inner = np.random.default_rng(0).random((38, 46)).astype(np.float32)  # BGGR
    rggb = np.pad(inner, 1, mode="reflect")  # 40 x 48, RGGB
    out_bggr = denoise_array(model, inner, ensemble=ensemble, pattern="BGGR", model_pattern="RGGB")
    out_rggb = denoise_array(model, rggb, ensemble=ensemble, pattern="RGGB", model_pattern="RGGB")
    assert out_bggr.shape == inner.shape
    np.testing.assert_array_equal(out_bggr, out_rggb[1:-1, 1:-1])
    # and feeding the BGGR mosaic as if it were RGGB gives something else
    assert not np.allclose(denoise_array(model, inner, ensemble=ensemble), out_bggr, atol=1e-4)


def test_pattern_aligned_model_runs_other_patterns():
    from nas.inference import PatternAligned

    net = site_weights("RGGB")
    x = torch.rand(1, 1, 16, 16)
    aligned = PatternAligned(net, "GRBG", "RGGB")  # x's sites are GRBG: weights follow them
    torch.testing.assert_close(aligned(x), site_weights("GRBG")(x))


def tiny_srgb_model():
    torch.manual_seed(0)
    spec = ArchSpec(
        widths=(8, 8, 8), groups=tuple(GroupSpec("residual", 0) for _ in GROUP_NAMES), in_channels=3
    )
    return build_model(spec).eval()


def test_srgb_ensemble_uses_every_view_as_it_is():
    # A pointwise colour transform commutes with every view: the ensemble must return it exactly,
    # with no Bayer padding shifting the views (which a mosaic's pattern would need).
    x = torch.rand(1, 3, 16, 24)
    gains = torch.tensor([0.5, 0.8, 0.3]).view(1, 3, 1, 1)
    torch.testing.assert_close(self_ensemble(lambda t: t * gains, x, pattern=None), x * gains)
    model = tiny_srgb_model()
    with torch.no_grad():
        torch.testing.assert_close(
            self_ensemble(model, x, batched=True, pattern=None),
            self_ensemble(model, x, batched=False, pattern=None),
            rtol=0,
            atol=1e-6,
        )


def test_srgb_image_of_any_size_keeps_its_size_and_tiles_seamlessly():
    model = tiny_srgb_model()
    image = np.random.default_rng(0).random((3, 70, 90)).astype(np.float32)
    whole = denoise_array(model, image)
    assert whole.shape == image.shape
    tiled_out = denoise_array(model, image, tile=64, overlap=32)
    assert psnr_db(tiled_out, whole) > 65  # a local network: tiles agree with the whole
    ensembled = denoise_array(model, image, ensemble=True, tile=64, overlap=32)
    assert ensembled.shape == image.shape and not np.allclose(ensembled, tiled_out)


def test_the_image_layout_follows_the_networks_channels():
    """A 3-D array is an sRGB image for a 3-channel network and refused by a raw one, never
    guessed from its number of axes."""
    from models import ArchSpec, GroupSpec, build_model
    from models.spec import GROUP_NAMES
    from nas.errors import DataError

    groups = tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES)
    raw = build_model(ArchSpec(widths=(8, 8, 8), groups=groups)).eval()
    srgb = build_model(ArchSpec(widths=(8, 8, 8), groups=groups, in_channels=3)).eval()
    image = np.random.default_rng(0).random((3, 16, 24), dtype=np.float32)
    assert denoise_array(srgb, image).shape == image.shape
    assert denoise_array(raw, image[0]).shape == image[0].shape
    for model, bad in ((raw, image), (srgb, image[0]), (srgb, image[:2])):
        with pytest.raises(DataError, match="the network takes"):
            denoise_array(model, bad)


# The two ensemble protocols. An independent x8 written with numpy: rotate by k quarter turns,
# then flip left-right or not; run the network; undo the flip, then the rotation; average; clip.
def numpy_plain_x8(net, image: np.ndarray) -> np.ndarray:
    """The paper's plain x8 of one C x H x W image, one view at a time, no padding."""
    outputs = []
    for k in range(4):
        for flip in (False, True):
            view = np.rot90(image, k, axes=(-2, -1))
            view = np.flip(view, -1) if flip else view
            with torch.no_grad():
                out = net(torch.from_numpy(np.ascontiguousarray(view))[None])[0].numpy()
            out = np.flip(out, -1) if flip else out
            outputs.append(np.rot90(out, -k, axes=(-2, -1)))
    return np.clip(np.mean(outputs, axis=0), 0, 1)


def lopsided_conv(channels=1):
    """A fixed, non-symmetric 3x3 conv whose gain depends on the pixel's site in a 2x2 cell: no
    rotation or flip commutes with it, and a view shifted by a padding row/column changes it.
    Its gain takes some outputs above 1, so clipping each view would differ from clipping the
    average."""
    kernel = torch.tensor([[0.0, 0.2, 0.5], [0.1, 0.6, 0.0], [0.3, 0.0, 0.1]])
    weight = kernel.expand(channels, 1, 3, 3).contiguous()
    cell = torch.tensor([[1.4, 0.5], [0.8, 0.25]])

    def net(t):
        h, w = t.shape[-2:]
        y = torch.nn.functional.conv2d(t, weight, padding=1, groups=channels)
        return y * cell.repeat((h + 1) // 2, (w + 1) // 2)[:h, :w] - 0.05

    return net


@pytest.mark.parametrize("shape", [(2, 1, 16, 24), (1, 1, 24, 16), (1, 3, 8, 16)])
def test_paper_protocol_equals_an_independent_rotate_and_flip(shape):
    net = lopsided_conv(shape[1])
    x = torch.rand(shape)
    expected = np.stack([numpy_plain_x8(net, image) for image in x.numpy()])
    pattern = "RGGB" if shape[1] == 1 else None
    for batched in (True, False):
        got = self_ensemble(net, x, batched=batched, pattern=pattern, protocol="paper")
        np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-6)
    got = predict(net, x, ensemble=True, pattern=pattern, ensemble_protocol="paper")
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-6)


def test_the_protocols_differ_on_a_mosaic_and_agree_on_srgb():
    # A network that is right only on its own pattern: the phase-correct views give back its
    # plain output, the paper's views put the wrong colours on 6 of its 8 views' sites.
    net = site_weights("RGGB")
    x = torch.rand(2, 1, 16, 24)
    phase = self_ensemble(net, x, pattern="RGGB", protocol="phase")
    paper = self_ensemble(net, x, pattern="RGGB", protocol="paper")
    torch.testing.assert_close(phase, net(x).clamp(0, 1), rtol=0, atol=1e-6)
    assert (paper - phase).abs().max() > 0.05
    # An sRGB image has no pattern: the two protocols are one.
    srgb_net, image = lopsided_conv(3), torch.rand(1, 3, 16, 24)
    torch.testing.assert_close(
        self_ensemble(srgb_net, image, pattern=None, protocol="paper"),
        self_ensemble(srgb_net, image, pattern=None, protocol="phase"),
        rtol=0,
        atol=0,
    )
    model, photo = tiny_srgb_model(), np.random.default_rng(0).random((3, 20, 28), np.float32)
    np.testing.assert_array_equal(
        denoise_array(model, photo, ensemble=True, ensemble_protocol="paper"),
        denoise_array(model, photo, ensemble=True, ensemble_protocol="phase"),
    )


def test_denoise_array_runs_the_protocol_it_is_given():
    model = tiny_model()
    mosaic = np.random.default_rng(0).random((32, 40)).astype(np.float32)
    paper = denoise_array(model, mosaic, ensemble=True, ensemble_protocol="paper")
    np.testing.assert_allclose(paper, numpy_plain_x8(model, mosaic[None])[0], rtol=0, atol=1e-6)
    phase = denoise_array(model, mosaic, ensemble=True, ensemble_protocol="phase")
    assert not np.allclose(paper, phase, atol=1e-4)
    # bare ``ensemble`` runs the default protocol
    default = {"paper": paper, "phase": phase}[DEFAULT_ENSEMBLE_PROTOCOL]
    np.testing.assert_array_equal(denoise_array(model, mosaic, ensemble=True), default)


def test_an_unknown_protocol_is_a_user_error():
    from nas.errors import UserError
    from nas.inference import ENSEMBLE_PROTOCOLS, EnsembleProtocolError

    assert ENSEMBLE_PROTOCOLS == ("paper", "phase")
    with pytest.raises(EnsembleProtocolError, match="expected one of paper, phase") as error:
        predict(lambda t: t, torch.rand(1, 1, 8, 8), ensemble=True, ensemble_protocol="plain")
    assert isinstance(error.value, UserError)
    with pytest.raises(EnsembleProtocolError):
        denoise_array(tiny_model(), np.zeros((8, 8), np.float32), ensemble_protocol="x8")
