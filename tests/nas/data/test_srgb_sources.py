"""The sRGB sources: each loads files in its documented layout, written here."""

import numpy as np
import png
import pytest
import scipy.io
import tifffile
import torch

import imageio.v3 as iio

from nas.data import DataError, training_sampler, validation_set
from nas.data.images import read_image
from nas.data.isp import srgb_pairs_from_rgb


def pixels(seed, h=40, w=48, dtype=np.uint8):
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, (h, w, 3), dtype=dtype)


def test_synthetic_srgb_is_8bit_rgb_with_signal_dependent_correlated_noise():
    noisy, clean = training_sampler("synthetic-srgb").sample(
        64, 32, torch.Generator().manual_seed(0)
    )
    assert noisy.shape == clean.shape == (64, 3, 32, 32)
    assert torch.equal(noisy, (noisy * 255).round() / 255) and noisy.min() >= 0 and noisy.max() <= 1
    residual = noisy - clean
    inner = residual[..., 1:-1, 1:-1]
    neighbour = (inner[..., 1:] * inner[..., :-1]).mean() / (inner * inner).mean()
    assert neighbour > 0.2  # demosaicing correlates neighbours
    channels = residual.transpose(0, 1).reshape(3, -1)
    assert torch.corrcoef(channels)[0, 2] < 0.95  # not the same noise in every channel


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_synthetic_srgb_noise_grows_with_the_signal(seed):
    # flat grey inputs at two levels, with the same camera and noise draws (same generator seed)
    variance = []
    for level in (0.15, 0.6):
        noisy, clean = srgb_pairs_from_rgb(
            torch.full((64, 3, 32, 32), level), torch.Generator().manual_seed(seed)
        )
        variance.append(float((noisy - clean)[..., 2:-2, 2:-2].var()))
    assert variance[1] > 1.3 * variance[0]  # shot noise: brighter is noisier (1.5-1.6x)


def test_synthetic_srgb_validation_is_fixed_and_3_channel():
    first = validation_set("synthetic-srgb", 4, 32)
    again = validation_set("synthetic-srgb", 4, 32)
    assert first.channels == 3 and first.noisy[0].shape == (3, 32, 32)
    np.testing.assert_array_equal(first.noisy[3], again.noisy[3])


def test_sidd_srgb_val_layout_loads(tmp_path):
    rng = np.random.default_rng(0)
    clean = rng.integers(
        0, 256, (2, 3, 16, 16, 3), dtype=np.uint8
    )  # 40 x 32 x 256 x 256 x 3 in SIDD
    noisy = (255 - clean).astype(np.uint8)
    scipy.io.savemat(
        tmp_path / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy}
    )
    scipy.io.savemat(tmp_path / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": clean})
    blocks = validation_set(f"sidd-srgb-val:{tmp_path}")
    assert len(blocks) == 6 and blocks.channels == 3
    np.testing.assert_allclose(blocks.clean[4], np.moveaxis(clean[1, 1], -1, 0) / 255, atol=1e-7)
    np.testing.assert_allclose(blocks.noisy[4], 1 - blocks.clean[4], atol=1e-6)


def test_sidd_srgb_val_rejects_raw_shaped_files(tmp_path):
    for stem in ("ValidationNoisyBlocksSrgb", "ValidationGtBlocksSrgb"):
        scipy.io.savemat(tmp_path / f"{stem}.mat", {stem: np.zeros((2, 3, 16, 16), np.uint8)})
    with pytest.raises(DataError, match="expected"):
        validation_set(f"sidd-srgb-val:{tmp_path}")


def test_sidd_medium_srgb_pairs_crop_in_register(tmp_path, monkeypatch):
    monkeypatch.setenv("MWNAS_CACHE", str(tmp_path / "cache"))
    scene = tmp_path / "Data" / "0001_001_S6_00100_00060_3200_L"
    scene.mkdir(parents=True)
    clean = pixels(1, 40, 56)
    iio.imwrite(scene / "0001_GT_SRGB_010.PNG", clean)
    iio.imwrite(scene / "0001_NOISY_SRGB_010.PNG", 255 - clean)
    noisy_batch, clean_batch = training_sampler(f"sidd-medium-srgb:{tmp_path}").sample(
        16, 16, torch.Generator().manual_seed(0)
    )
    assert noisy_batch.shape == (16, 3, 16, 16)
    torch.testing.assert_close(noisy_batch, 1 - clean_batch, atol=1e-6, rtol=0)
    # Each PNG was decoded once into the cache; a new sampler crops the cached copies, identically.
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2
    (scene / "0001_GT_SRGB_010.PNG").touch()  # a changed file is decoded again
    again, _ = training_sampler(f"sidd-medium-srgb:{tmp_path}").sample(
        16, 16, torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(again, noisy_batch, atol=0, rtol=0)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 3


def test_sidd_medium_srgb_grey_png_is_refused_up_front(tmp_path):
    iio.imwrite(tmp_path / "0001_NOISY_SRGB_010.PNG", np.zeros((16, 16), np.uint8))
    iio.imwrite(tmp_path / "0001_GT_SRGB_010.PNG", np.zeros((16, 16), np.uint8))
    with pytest.raises(DataError, match="grey PNG"):
        training_sampler(f"sidd-medium-srgb:{tmp_path}")


def test_synthetic_srgb_refuses_an_argument():
    with pytest.raises(DataError, match="synthetic-srgb takes no argument"):
        training_sampler("synthetic-srgb:camera.dng")


def test_sidd_medium_srgb_missing_ground_truth_is_named(tmp_path):
    iio.imwrite(tmp_path / "0001_NOISY_SRGB_010.PNG", pixels(0))
    with pytest.raises(DataError, match="0001_GT_SRGB_010.PNG"):
        training_sampler(f"sidd-medium-srgb:{tmp_path}")


def write_pair(folder, name, noisy, clean, write):
    for kind, image in (("noisy", noisy), ("clean", clean)):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        write(folder / kind / name, image)


def png16(path, image):
    png.from_array(image.reshape(image.shape[0], -1), mode="RGB;16").save(str(path))


@pytest.mark.parametrize(
    "name, dtype, write",
    [
        ("a.png", np.uint8, iio.imwrite),
        ("a.tif", np.uint16, tifffile.imwrite),
        ("a.png", np.uint16, png16),
    ],
)
def test_rgb_pairs_train_and_validate(tmp_path, name, dtype, write):
    clean = pixels(2, 40, 48, dtype)
    write_pair(tmp_path, name, clean // 2, clean, write)
    blocks = validation_set(f"pairs:{tmp_path}")
    assert blocks.channels == 3 and blocks.clean[0].shape == (3, 40, 48)
    np.testing.assert_allclose(
        blocks.clean[0], np.moveaxis(clean, -1, 0) / np.iinfo(dtype).max, atol=1e-6
    )
    noisy, target = training_sampler(f"pairs:{tmp_path}").sample(
        8, 16, torch.Generator().manual_seed(0)
    )
    assert noisy.shape == target.shape == (8, 3, 16, 16)
    top = np.iinfo(dtype).max
    torch.testing.assert_close(noisy, torch.floor(target * top / 2) / top, atol=1e-6, rtol=0)


def test_jpeg_pairs_load(tmp_path):
    write_pair(tmp_path, "a.jpg", pixels(3), pixels(3), iio.imwrite)
    assert validation_set(f"pairs:{tmp_path}").noisy[0].shape == (3, 40, 48)


def test_pairs_mixing_raw_and_rgb_is_an_error(tmp_path):
    write_pair(tmp_path, "a.png", pixels(4), pixels(4), iio.imwrite)
    write_pair(
        tmp_path, "b.npy", np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32), np.save
    )
    with pytest.raises(DataError, match="mixes raw mosaics and RGB"):
        validation_set(f"pairs:{tmp_path}")


@pytest.mark.parametrize(
    "call",
    [
        lambda: training_sampler("synthetic", channels=3),
        lambda: validation_set("synthetic-srgb", 2, 16, channels=1),
    ],
)
def test_channel_mismatch_names_both_sides(call):
    with pytest.raises(DataError, match=r"the network takes .* but synthetic.* holds"):
        call()


def test_rgb_pairs_for_a_raw_network_are_refused(tmp_path):
    write_pair(tmp_path, "a.png", pixels(5), pixels(5), iio.imwrite)
    with pytest.raises(
        DataError, match=r"raw mosaics \(1 channel\) but pairs:.* holds sRGB images"
    ):
        training_sampler(f"pairs:{tmp_path}", channels=1)


def test_binary_garbage_image_is_a_data_error(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(DataError, match="x.png"):
        read_image(path)


def test_grey_jpeg_pairs_are_not_mosaics(tmp_path):
    grey = pixels(6)[..., 0]
    write_pair(tmp_path, "a.jpg", grey, grey, iio.imwrite)
    with pytest.raises(DataError, match="a.jpg: a JPEG is lossy and cannot hold a raw mosaic"):
        validation_set(f"pairs:{tmp_path}")
