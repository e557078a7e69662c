import numpy as np
import pytest
import rawpy
import tifffile

from nas.data import DataError, unlabeled_blocks
from nas.data.bayer import PATTERNS, PatternError
from nas.data.camera_raw import RawImage, RawMetadata, read_mosaic, read_raw, write_dng

from .mosaics import colour_mosaic, pattern_of

METADATA = RawMetadata(
    make="Acme",
    model="Test 1",
    color_matrix=(0.6722, -0.0635, -0.0963, -0.4287, 1.246, 0.2028, -0.0908, 0.2162, 0.5668),
    as_shot_neutral=(0.5, 1.0, 0.625),
    orientation=6,
    noise_profile=(2e-4, 1e-6),
)


def camera_raw(pattern: str, height: int = 32, width: int = 48, seed: int = 0) -> RawImage:
    """A 12-bit camera-like raw: black 256 with a different level per site, white 4095."""
    values = np.random.default_rng(seed).integers(200, 4096, (height, width)).astype(np.float32)
    black = (256.0, 258.0, 254.0, 260.0)
    site = np.tile(np.array(black).reshape(2, 2), (height // 2, width // 2))
    return RawImage(
        ((values - site) / (4095 - site)).astype(np.float32), pattern, black, 4095.0, METADATA
    )


def write_camera_dng(path, pattern, **kwargs) -> RawImage:
    image = camera_raw(pattern, **kwargs)
    write_dng(path, image.mosaic, image)
    return image


@pytest.mark.parametrize("pattern", PATTERNS)
def test_rawpy_reads_our_dng_back_to_the_same_mosaic_and_pattern(tmp_path, pattern):
    image = write_camera_dng(tmp_path / "a.dng", pattern)
    with rawpy.imread(str(tmp_path / "a.dng")) as raw:  # LibRaw itself, not our reader
        np.testing.assert_array_equal(raw.raw_image_visible, image.raw_values())
        desc = raw.color_desc.decode()
        assert "".join(desc[c] for c in raw.raw_colors_visible[:2, :2].reshape(-1)) == pattern
        assert raw.white_level == 4095 and raw.sizes.flip == 6  # flip 6 is Orientation 6
    back = read_raw(tmp_path / "a.dng")
    assert (
        back.cfa == pattern and back.black_levels == image.black_levels and back.white_level == 4095
    )
    np.testing.assert_allclose(back.mosaic, image.mosaic, rtol=0, atol=1e-6)


def test_dng_keeps_the_source_metadata_through_a_second_write(tmp_path):
    write_camera_dng(tmp_path / "a.dng", "GRBG")
    first = read_raw(tmp_path / "a.dng")
    assert first.metadata.make == "Acme" and first.metadata.model == "Test 1"
    assert first.metadata.orientation == 6 and first.metadata.noise_profile == (2e-4, 1e-6)
    np.testing.assert_allclose(first.metadata.color_matrix, METADATA.color_matrix, atol=1e-6)
    np.testing.assert_allclose(first.metadata.as_shot_neutral, METADATA.as_shot_neutral, atol=1e-6)
    write_dng(tmp_path / "b.dng", first.mosaic, first)
    second = read_raw(tmp_path / "b.dng")
    assert second.metadata == first.metadata and second.cfa == "GRBG"
    np.testing.assert_array_equal(second.mosaic, first.mosaic)
    with tifffile.TiffFile(tmp_path / "b.dng") as tif:
        tags = tif.pages[0].tags
        assert tags[50706].value == b"\x01\x04\x00\x00" and tags[33422].value == b"\x01\x00\x02\x01"
        assert tags[50714].value == (256, 258, 254, 260) and tags[50778].value == 21


def test_failed_write_keeps_an_existing_file(tmp_path):
    target = tmp_path / "out.dng"
    target.write_bytes(b"old")
    image = camera_raw("RGGB")
    with pytest.raises(DataError, match="even sides"):
        write_dng(target, image.mosaic[:, :47], image)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.dng"]


def test_linear_dng_is_refused(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 4096, (32, 48, 3)).astype(np.uint16)
    tifffile.imwrite(
        tmp_path / "linear.dng",
        rgb,
        photometric=34892,
        metadata=None,
        subfiletype=0,
        extratags=[
            (50706, "B", 4, (1, 4, 0, 0), True),
            (50708, "s", 0, "Acme", True),
            (50721, 10, 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),
        ],
    )
    with pytest.raises(PatternError, match="not a 2 x 2 Bayer mosaic"):
        read_raw(tmp_path / "linear.dng")


def test_unreadable_and_odd_inputs_are_named(tmp_path):
    (tmp_path / "junk.dng").write_bytes(b"not a raw file at all" * 100)
    with pytest.raises(DataError, match="not a raw file LibRaw can read"):
        read_raw(tmp_path / "junk.dng")
    np.save(tmp_path / "odd.npy", np.zeros((31, 48), np.float32))
    with pytest.raises(DataError, match="even sides"):
        read_mosaic(tmp_path / "odd.npy")
    write_camera_dng(tmp_path / "a.dng", "RGGB")
    with pytest.raises(DataError, match="records its CFA pattern"):
        read_mosaic(tmp_path / "a.dng", cfa="BGGR")


def test_raws_folder_gives_fixed_unified_crops(tmp_path):
    for i, pattern in enumerate(("BGGR", "GBRG")):  # colour codes / 4, so each value is in [0, 1)
        labelled = RawImage(
            colour_mosaic(pattern, 40, 56, seed=i) / 4, pattern, (0.0,) * 4, 65535.0, METADATA
        )
        write_dng(tmp_path / f"{i}.dng", labelled.mosaic, labelled)
    (tmp_path / "notes.txt").write_text("not a raw")  # skipped: unreadable
    unlabeled = unlabeled_blocks(f"raws:{tmp_path}", num_blocks=6, block_size=16, seed=3)
    assert unlabeled.channels == 1
    blocks = unlabeled.noisy
    assert blocks.shape == (6, 16, 16) and blocks.dtype == np.float32
    again = unlabeled_blocks(f"raws:{tmp_path}", 6, 16, seed=3).noisy
    np.testing.assert_array_equal(blocks, again)
    assert pattern_of(np.round(blocks * 4, 3)) == "RGGB"
    with pytest.raises(DataError, match="at least 42 px"):
        unlabeled_blocks(f"raws:{tmp_path}", num_blocks=2, block_size=40)


def test_raws_folder_without_raws_is_an_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no readable Bayer raw files"):
        unlabeled_blocks(f"raws:{tmp_path}")
    from nas.data import training_sampler, validation_set

    with pytest.raises(DataError, match="noisy photos only"):
        training_sampler(f"raws:{tmp_path}")
    with pytest.raises(DataError, match="pseudo-labelling only"):
        validation_set(f"raws:{tmp_path}")


def test_synthetic_data_takes_the_noise_of_a_camera_dng(tmp_path):
    import torch
    from nas.data import training_sampler, validation_set

    profile = (4e-3, 1e-4, 1e-3, 2e-5, 6e-3, 3e-4)  # (shot, read) for R, G, B
    image = camera_raw("RGGB")
    write_dng(
        tmp_path / "cam.dng",
        image.mosaic,
        RawImage(
            image.mosaic, "RGGB", image.black_levels, 4095.0, RawMetadata(noise_profile=profile)
        ),
    )
    noisy, clean = training_sampler(f"synthetic:{tmp_path / 'cam.dng'}").sample(
        16, 64, torch.Generator().manual_seed(0)
    )
    for (dy, dx), (shot, read) in zip(
        [(0, 0), (0, 1), (1, 1)], [profile[0:2], profile[2:4], profile[4:6]]
    ):
        site = (slice(None), 0, slice(dy, None, 2), slice(dx, None, 2))
        normalized = (noisy - clean)[site] / (shot * clean[site] + read).sqrt()
        assert abs(normalized.var().item() - 1) < 0.05  # variance = shot * x + read, per colour
    val = validation_set(f"synthetic:{tmp_path / 'cam.dng'}", 4, 32)
    assert val.source.startswith("synthetic:") and not np.array_equal(
        val.noisy, validation_set("synthetic", 4, 32).noisy
    )
    write_dng(
        tmp_path / "quiet.dng",
        image.mosaic,
        RawImage(image.mosaic, "RGGB", image.black_levels, 4095.0),
    )
    with pytest.raises(DataError, match="no NoiseProfile"):
        training_sampler(f"synthetic:{tmp_path / 'quiet.dng'}")
