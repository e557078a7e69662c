import h5py
import numpy as np
import pytest
import scipy.io
import torch

from nas.data import DataError, read_array, training_sampler, validation_set
from nas.data.samplers import CropSampler, array_reader
from nas.data.synthetic import synthetic_blocks
from nas.data.unprocess import add_noise, mosaic, random_noise_levels, unprocess


def test_noise_variance_matches_model_on_flat_patch():
    g = torch.Generator().manual_seed(3)
    for level in (0.05, 0.3, 0.8):
        clean = torch.full((1, 1, 512, 512), level)
        shot, read = torch.tensor([0.01]), torch.tensor([2e-4])
        noisy = add_noise(clean, shot, read, g)
        measured = (noisy - clean).var().item()
        assert measured == pytest.approx(0.01 * level + 2e-4, rel=0.03)


def test_noise_levels_follow_brooks_distribution():
    g = torch.Generator().manual_seed(0)
    shot, read = random_noise_levels(20000, g)
    assert shot.min() >= 1e-4 and shot.max() <= 0.012
    residual = read.log() - (2.18 * shot.log() + 1.20)
    assert residual.mean().item() == pytest.approx(0.0, abs=0.01)
    assert residual.std().item() == pytest.approx(0.26, rel=0.03)


def test_unprocess_and_mosaic_give_rggb_plane_in_unit_range():
    g = torch.Generator().manual_seed(0)
    rgb = torch.rand(2, 3, 16, 16)
    linear = unprocess(rgb, g)
    assert linear.shape == rgb.shape and linear.min() >= 0 and linear.max() <= 1
    plane = mosaic(linear)
    assert plane.shape == (2, 1, 16, 16)
    assert torch.equal(plane[0, 0, 0::2, 0::2], linear[0, 0, 0::2, 0::2])  # red at (0, 0)
    assert torch.equal(plane[0, 0, 1::2, 1::2], linear[0, 2, 1::2, 1::2])  # blue at (1, 1)
    assert torch.equal(plane[0, 0, 0::2, 1::2], linear[0, 1, 0::2, 1::2])  # green


def test_synthetic_validation_is_deterministic_and_held_out():
    first = validation_set("synthetic", 6, 64)
    synthetic_blocks.cache_clear()
    second = validation_set("synthetic", 6, 64)
    np.testing.assert_array_equal(first.noisy, second.noisy)
    np.testing.assert_array_equal(first.clean, second.clean)
    assert first.noisy.shape == (6, 64, 64) and first.noisy.dtype == np.float32
    assert not np.array_equal(first.noisy, first.clean)


def test_synthetic_training_sampler_is_seeded():
    sampler = training_sampler("synthetic")
    a = sampler.sample(4, 32, torch.Generator().manual_seed(5))
    b = sampler.sample(4, 32, torch.Generator().manual_seed(5))
    c = sampler.sample(4, 32, torch.Generator().manual_seed(6))
    assert a[0].shape == (4, 1, 32, 32)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


def phase_pattern(h, w):
    """A mosaic whose value at each pixel names its CFA phase (0..3) plus a small unique offset."""
    y, x = np.mgrid[0:h, 0:w]
    return (2 * (y % 2) + (x % 2)).astype(np.float32) + (y * w + x).astype(np.float32) * 1e-6


def test_bayer_crop_sampler_preserves_cfa_phase():
    image = phase_pattern(40, 50)
    sampler = CropSampler([(array_reader(image), array_reader(image), image.shape)])
    g = torch.Generator().manual_seed(0)
    noisy, clean = sampler.sample(64, 16, g)
    phases = noisy.floor()[:, 0]
    # R and B stay put; a transpose may swap the two green sites, which keeps the CFA (RGGB).
    assert (phases[:, 0::2, 0::2] == 0).all() and (phases[:, 1::2, 1::2] == 3).all()
    greens = torch.cat([phases[:, 0::2, 1::2], phases[:, 1::2, 0::2]])
    assert ((greens == 1) | (greens == 2)).all()
    assert torch.equal(noisy, clean)
    # augmentation really happens: some patches are flipped (decreasing unique offsets along a row)
    row_steps = noisy[:, 0, 0, 2] - noisy[:, 0, 0, 0]
    assert (row_steps > 0).any() and (row_steps < 0).any()


def write_sidd_val(folder, noisy, clean):
    scipy.io.savemat(folder / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": noisy})
    scipy.io.savemat(folder / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})


def test_sidd_val_layout_loads(tmp_path):
    rng = np.random.default_rng(0)
    clean = rng.random((2, 3, 32, 32), dtype=np.float32)
    write_sidd_val(tmp_path, clean + 0.01, clean)
    blocks = validation_set(f"sidd-val:{tmp_path}")
    assert len(blocks) == 6
    np.testing.assert_array_equal(blocks.clean[4], clean[1, 1])
    assert len(validation_set(f"sidd-val:{tmp_path}", num_blocks=3)) == 3


def test_siddplus_val_v73_layout_loads(tmp_path):
    clean = np.random.default_rng(1).random((5, 16, 24)).astype(np.float32)
    for stem, array in (("siddplus_valid_noisy_raw", clean), ("siddplus_valid_gt_raw", clean)):
        with h5py.File(tmp_path / f"{stem}.mat", "w", userblock_size=512) as f:
            f[stem] = array.T  # MATLAB v7.3 stores column-major
    blocks = validation_set(f"siddplus-val:{tmp_path}")
    assert len(blocks) == 5
    np.testing.assert_array_equal(blocks.noisy[2], clean[2])


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((0, 16, 16), np.float32), "is empty"),
        (np.full((8, 8), np.nan, np.float32), "NaN or infinite"),
        (np.full((8, 8), 1023.0, np.float32), "ranges from 1023 to 1023; expected values in"),
    ],
)
def test_arrays_that_are_not_images_in_0_1_are_data_errors(tmp_path, array, message):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(DataError, match=message):
        read_array(tmp_path / "a.npy")
    noisy = np.clip(np.random.default_rng(0).normal(0.5, 0.4, (8, 8)), -1.0, 2.0).astype(np.float32)
    np.save(tmp_path / "b.npy", noisy)  # heavy unclipped noise strays well outside [0, 1]
    np.testing.assert_array_equal(read_array(tmp_path / "b.npy"), noisy)


def test_a_damaged_v73_mat_is_a_data_error(tmp_path):
    path = tmp_path / "x.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["x"] = np.zeros((8, 8), np.float32)
        f.create_group("folder")
    assert read_array(path, "x").shape == (8, 8)
    with pytest.raises(DataError, match="no array 'folder'"):
        read_array(path, "folder")  # a group, not an array
    data = bytearray(path.read_bytes())
    data[520:] = b"\x00" * (len(data) - 520)  # the HDF5 signature stays, the body is gone
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="not a readable MATLAB v7.3 file"):
        read_array(path, "x")


@pytest.mark.parametrize(
    "phone, pattern",
    [("GP", "BGGR"), ("IP", "RGGB"), ("S6", "GRBG"), ("N6", "BGGR"), ("G4", "BGGR")],
)
def test_sidd_medium_unifies_each_phone_to_rggb(tmp_path, phone, pattern):
    from tests.nas.data.mosaics import colour_mosaic, pattern_of

    scene = tmp_path / "Data" / f"0001_001_{phone}_00100_00060_3200_L"
    scene.mkdir(parents=True)
    mosaic_ = colour_mosaic(pattern, 48, 64)
    for name in ("0001_NOISY_RAW_010.MAT", "0001_GT_RAW_010.MAT"):
        with h5py.File(scene / name, "w", userblock_size=512) as f:
            f["x"] = mosaic_.T
    noisy, clean = training_sampler(f"sidd-medium:{tmp_path}").sample(
        32, 16, torch.Generator().manual_seed(0)
    )
    assert noisy.shape == (32, 1, 16, 16) and torch.equal(noisy, clean)
    assert pattern_of(noisy.numpy()) == "RGGB"


def test_sidd_medium_unknown_phone_is_named(tmp_path):
    scene = tmp_path / "0001_001_XX_00100_00060_3200_L"
    scene.mkdir()
    for name in ("0001_NOISY_RAW_010.MAT", "0001_GT_RAW_010.MAT"):
        with h5py.File(scene / name, "w", userblock_size=512) as f:
            f["x"] = np.zeros((32, 32), np.float32)
    with pytest.raises(DataError, match="no known SIDD phone code"):
        training_sampler(f"sidd-medium:{tmp_path}")


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_bayer_crop_sampler_unifies_and_augments_every_pattern(pattern):
    # Flips and transposes of a GRBG/GBRG mosaic swap its R and B sites unless re-aligned; every
    # patch must come out RGGB with its colours on the right sites, and be really augmented.
    from tests.nas.data.mosaics import colour_mosaic, pattern_of

    image = colour_mosaic(pattern, 40, 50)
    sampler = CropSampler([(array_reader(image), array_reader(image), image.shape, pattern)])
    noisy, clean = sampler.sample(64, 16, torch.Generator().manual_seed(0))
    assert pattern_of(noisy.numpy()) == "RGGB" and torch.equal(noisy, clean)
    where = {float(v): divmod(i, image.shape[1]) for i, v in enumerate(image.reshape(-1))}
    steps = {tuple(np.subtract(where[float(p[0, 0, 1])], where[float(p[0, 0, 0])])) for p in noisy}
    assert steps == {(0, 1), (0, -1), (1, 0), (-1, 0)}  # left-right flips and transposes all occur


def test_pairs_folder_trains_and_validates(tmp_path):
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    clean = np.random.default_rng(2).random((3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "noisy" / "a.npy", clean + 0.01)
    np.save(tmp_path / "clean" / "a.npy", clean)
    np.save(tmp_path / "noisy" / "b.npy", clean[0])
    np.save(tmp_path / "clean" / "b.npy", clean[0])
    assert len(validation_set(f"pairs:{tmp_path}")) == 4
    noisy, _ = training_sampler(f"pairs:{tmp_path}").sample(2, 16, torch.Generator().manual_seed(0))
    assert noisy.shape == (2, 1, 16, 16)


def test_an_odd_sided_mosaic_in_a_pairs_folder_is_a_data_error(tmp_path):
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    clean = np.full((33, 32), 0.5, np.float32)
    np.save(tmp_path / "noisy" / "a.npy", clean)
    np.save(tmp_path / "clean" / "a.npy", clean)
    with pytest.raises(DataError, match="33 x 32 mosaic; a Bayer mosaic has even sides"):
        training_sampler(f"pairs:{tmp_path}")


def test_a_patch_larger_than_the_smallest_image_is_refused_before_training(tmp_path):
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    for name, side in (("big", 64), ("small", 16)):
        clean = np.random.default_rng(2).random((side, side)).astype(np.float32)
        np.save(tmp_path / "noisy" / f"{name}.npy", clean + 0.01)
        np.save(tmp_path / "clean" / f"{name}.npy", clean)
    sampler = training_sampler(f"pairs:{tmp_path}")
    sampler.check_patch(8)
    with pytest.raises(DataError, match="smallest is 16 x 16"):
        sampler.check_patch(16)  # a raw crop takes 2 pixels more for Bayer alignment
    with pytest.raises(DataError, match="larger than a training photo"):
        training_sampler("synthetic").check_patch(100000)


@pytest.mark.parametrize(
    "source, message",
    [
        ("imagenet", "unknown data source"),
        ("sidd-val", "needs a folder"),
        ("sidd-val:/nonexistent/dir", "folder not found"),
    ],
)
def test_bad_source_strings(source, message):
    with pytest.raises(DataError, match=message):
        validation_set(source)


def test_source_roles_are_enforced(tmp_path):
    with pytest.raises(DataError, match="validation blocks only"):
        training_sampler(f"sidd-val:{tmp_path}")
    with pytest.raises(DataError, match="training only"):
        validation_set(f"sidd-medium:{tmp_path}")


def test_wrong_key_shape_and_dtype_are_named(tmp_path):
    scipy.io.savemat(
        tmp_path / "ValidationNoisyBlocksRaw.mat", {"wrong": np.zeros((2, 2), np.float32)}
    )
    with pytest.raises(DataError, match="no array 'ValidationNoisyBlocksRaw' \\(found: wrong\\)"):
        validation_set(f"sidd-val:{tmp_path}")
    write_sidd_val(tmp_path, np.zeros((4, 32, 32), np.float32), np.zeros((4, 32, 32), np.float32))
    with pytest.raises(DataError, match=r"shape \(4, 32, 32\), expected \(40, 32, 256, 256\)"):
        validation_set(f"sidd-val:{tmp_path}")
    np.save(tmp_path / "ints.npy", np.zeros((4, 4), np.uint16))
    with pytest.raises(DataError, match="dtype uint16"):
        read_array(tmp_path / "ints.npy")


def test_a_block_set_states_its_channels_and_refuses_blocks_of_another_layout():
    from nas.data import BlockSet

    raw = [np.zeros((8, 8), np.float32)] * 2
    srgb = [np.zeros((3, 8, 8), np.float32)] * 2
    assert BlockSet(raw, raw, "raw", channels=1).channels == 1
    assert BlockSet(srgb, srgb, "srgb", channels=3).subset([1]).channels == 3
    for noisy, clean, channels in ((srgb, srgb, 1), (raw, raw, 3), (raw, raw[:1], 1)):
        with pytest.raises(DataError):
            BlockSet(noisy, clean, "bad", channels=channels)
