"""python -m nas.denoise on camera raws: DNG in, DNG out, every Bayer pattern, the preview."""

import numpy as np
import pytest
import rawpy
import skimage.io
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.arch import save_model_file
from nas.data.bayer import PATTERNS
from nas.data.camera_raw import read_raw
from nas.denoise import __main__ as denoise

from ..data.test_camera_raw import METADATA, write_camera_dng


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    spec = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model_file(path, spec, build_model(spec).state_dict())
    return path


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        denoise.main(argv)
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("pattern", PATTERNS)
def test_dng_in_dng_out_keeps_size_pattern_and_metadata(tmp_path, model_file, pattern, capsys):
    source = write_camera_dng(tmp_path / "in.dng", pattern, height=40, width=56)
    denoise.main(
        [
            str(tmp_path / "in.dng"),
            str(tmp_path / "out.dng"),
            "--arch",
            str(model_file),
            "--tile",
            "32",
            "--overlap",
            "8",
            "--ensemble",
            "--threads",
            "1",
            "--preview",
            str(tmp_path / "preview.png"),
        ]
    )
    out = read_raw(tmp_path / "out.dng")
    assert out.mosaic.shape == (40, 56) and out.cfa == pattern
    assert out.black_levels == source.black_levels and out.white_level == source.white_level
    assert out.metadata.make == "Acme" and out.metadata.orientation == 6
    assert out.metadata.noise_profile == METADATA.noise_profile
    np.testing.assert_allclose(out.metadata.color_matrix, METADATA.color_matrix, atol=1e-6)
    assert not np.allclose(out.mosaic, source.mosaic, atol=1e-3)  # it was denoised
    with rawpy.imread(str(tmp_path / "out.dng")) as raw:  # a developer opens it
        assert raw.postprocess().shape == (56, 40, 3)  # Orientation 6: turned
    preview = skimage.io.imread(tmp_path / "preview.png")
    assert preview.shape == (56, 80, 3) and preview.dtype == np.uint8  # noisy | denoised
    assert f"40 x 56 {pattern}" in capsys.readouterr().out


def test_npy_with_cfa_to_dng_and_tiff(tmp_path, model_file):
    mosaic = np.random.default_rng(0).random((48, 64)).astype(np.float32)
    np.save(tmp_path / "in.npy", mosaic)
    denoise.main(
        [
            str(tmp_path / "in.npy"),
            str(tmp_path / "out.dng"),
            "--cfa",
            "gbrg",
            "--arch",
            str(model_file),
            "--tile",
            "0",
            "--preview",
            str(tmp_path / "p.png"),
        ]
    )
    out = read_raw(tmp_path / "out.dng")
    assert out.cfa == "GBRG" and out.mosaic.shape == (48, 64)
    assert skimage.io.imread(tmp_path / "p.png").shape == (48, 128, 3)
    denoise.main(
        [
            str(tmp_path / "in.npy"),
            str(tmp_path / "out.tiff"),
            "--cfa",
            "GBRG",
            "--arch",
            str(model_file),
            "--tile",
            "0",
        ]
    )
    np.testing.assert_allclose(skimage.io.imread(tmp_path / "out.tiff"), out.mosaic, atol=1 / 65535)


def test_bggr_input_matches_equivalent_rggb_crop_through_the_command(tmp_path, model_file):
    # Randomly initialised network: equality is a property of the unification, not of training.
    inner = np.random.default_rng(1).random((38, 46)).astype(np.float32)
    np.save(tmp_path / "bggr.npy", inner)
    np.save(tmp_path / "rggb.npy", np.pad(inner, 1, mode="reflect"))
    for name, cfa in (("bggr", "BGGR"), ("rggb", "RGGB")):
        denoise.main(
            [
                str(tmp_path / f"{name}.npy"),
                str(tmp_path / f"{name}_out.npy"),
                "--cfa",
                cfa,
                "--arch",
                str(model_file),
                "--tile",
                "0",
            ]
        )
    np.testing.assert_array_equal(
        np.load(tmp_path / "bggr_out.npy"), np.load(tmp_path / "rggb_out.npy")[1:-1, 1:-1]
    )


@pytest.mark.parametrize(
    "make_input, extra, message",
    [
        (
            lambda d: (d / "junk.dng").write_bytes(b"junk" * 1000) and d / "junk.dng",
            [],
            "not a raw file LibRaw can read",
        ),
        (
            lambda d: np.save(d / "odd.npy", np.zeros((33, 48), np.float32)) or d / "odd.npy",
            [],
            "even sides",
        ),
        (
            lambda d: np.save(d / "x.npy", np.zeros((32, 48), np.float32)) or d / "x.npy",
            ["--cfa", "RGBG"],
            "invalid choice: 'RGBG'",
        ),
        (
            lambda d: write_camera_dng(d / "a.dng", "RGGB") and d / "a.dng",
            ["--cfa", "RGGB"],
            "records its CFA pattern",
        ),
        (
            lambda d: np.save(d / "small.npy", np.zeros((16, 16), np.float32)) or d / "small.npy",
            [],
            "too small for a DNG",
        ),
    ],
)
def test_bad_input_is_one_line_and_keeps_existing_output(
    tmp_path, model_file, capsys, make_input, extra, message
):
    source = make_input(tmp_path)
    (tmp_path / "out.dng").write_bytes(b"previous result")
    code, err = run_cli(
        [str(source), str(tmp_path / "out.dng"), "--arch", str(model_file), *extra], capsys
    )
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert (tmp_path / "out.dng").read_bytes() == b"previous result"


def test_non_bayer_raw_is_one_line(tmp_path, model_file, capsys):
    import tifffile

    rgb = np.zeros((32, 48, 3), np.uint16)
    tifffile.imwrite(
        tmp_path / "linear.dng",
        rgb,
        photometric=34892,
        metadata=None,
        subfiletype=0,
        extratags=[(50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "Acme", True)],
    )
    code, err = run_cli(
        [str(tmp_path / "linear.dng"), str(tmp_path / "o.dng"), "--arch", str(model_file)], capsys
    )
    assert code == 2 and len(err) == 1 and "not a 2 x 2 Bayer mosaic" in err[0]


def test_grey_images_are_mosaics_as_in_pairs_folders(tmp_path, model_file):
    # The rule of pairs:DIR: a grey PNG/TIFF is a raw mosaic. Our own float TIFF output reads back
    # too.
    from nas.data.images import write_image

    mosaic = np.round(np.random.default_rng(2).random((48, 64)) * 65535) / 65535
    np.save(tmp_path / "in.npy", mosaic.astype(np.float32))
    write_image(tmp_path / "in.png", mosaic, bits=16)
    common = ["--cfa", "GBRG", "--arch", str(model_file), "--tile", "0"]
    for name in ("in.npy", "in.png"):
        denoise.main([str(tmp_path / name), str(tmp_path / f"{name}.tif"), *common])
    np.testing.assert_allclose(
        skimage.io.imread(tmp_path / "in.png.tif"),
        skimage.io.imread(tmp_path / "in.npy.tif"),
        atol=1e-6,
    )
    denoise.main([str(tmp_path / "in.npy.tif"), str(tmp_path / "again.npy"), *common])
    assert np.load(tmp_path / "again.npy").shape == (48, 64)


def test_colour_image_for_a_raw_network_is_one_line(tmp_path, model_file, capsys):
    from nas.data.images import write_image

    write_image(tmp_path / "rgb.png", np.zeros((3, 32, 48)))
    code, err = run_cli(
        [str(tmp_path / "rgb.png"), str(tmp_path / "o.npy"), "--arch", str(model_file)], capsys
    )
    assert code == 2 and len(err) == 1 and "an RGB image, not a raw mosaic" in err[0]


def test_grey_jpeg_is_not_a_mosaic(tmp_path, model_file, capsys):
    # JPEG is lossy and blurs across the CFA sites: a grey JPEG is a black-and-white photo, not a
    # mosaic.
    from nas.data.images import write_image

    write_image(tmp_path / "bw.jpg", np.full((32, 48), 0.5))
    code, err = run_cli(
        [str(tmp_path / "bw.jpg"), str(tmp_path / "o.npy"), "--arch", str(model_file)], capsys
    )
    assert code == 2 and len(err) == 1 and "JPEG" in err[0] and not (tmp_path / "o.npy").exists()
