"""The sRGB track end to end through the commands: export, train, evaluate (x8 ensemble),
denoise."""

import json

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.arch import save_model_file
from nas.data.images import read_image
from nas.denoise import __main__ as denoise
from nas.evaluate import __main__ as evaluate
from nas.export.exporter import export_model
from nas.search.best import read_result
from nas.train import __main__ as train

from ..export.test_export import tiny_genome, write_best
from ..helpers import run_cli, tiny_space

SRGB_SPEC = ArchSpec(
    widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES), in_channels=3
)


@pytest.fixture
def srgb_model(tmp_path):
    path = tmp_path / "srgb.pt"
    torch.manual_seed(0)
    save_model_file(path, SRGB_SPEC, build_model(SRGB_SPEC).state_dict())
    return path


def photo(path, h=36, w=44, seed=0):
    iio.imwrite(path, np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))
    return path


def test_export_of_an_srgb_genome_is_a_3_channel_model_without_cfa(tmp_path):
    space = tiny_space(
        in_channels=3,
        widths={"level1": [16], "level2": [16], "level3": [32]},
        budget={"data": "synthetic-srgb"},
    )
    info = export_model(
        read_result(write_best(tmp_path / "best.json", space, tiny_genome())),
        tmp_path / "out",
        formats=("pt",),
    )
    assert info["spec"]["in_channels"] == 3 and info["cfa"] is None
    saved = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    assert saved["state_dict"]["down1.0.weight"].shape[1] == 12  # Haar of 3 channels
    assert json.loads((tmp_path / "out" / "model.json").read_text())["cfa"] is None


def test_train_defaults_to_synthetic_srgb_for_an_srgb_network(tmp_path, srgb_model, capsys):
    train.main(
        [
            "--arch",
            str(srgb_model),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--patch-size",
            "16",
            "--val-blocks",
            "2",
            "--val-block-size",
            "16",
            "--val-every",
            "2",
            "--out",
            str(tmp_path / "t"),
        ]
    )
    assert "best validation PSNR" in capsys.readouterr().out
    metrics = pd.read_csv(tmp_path / "t" / "metrics.csv")
    assert metrics["val_psnr"].notna().all() and (metrics["val_psnr"] > 0).all()


def test_evaluate_rgb_pairs_with_the_ensemble(tmp_path, srgb_model, capsys):
    for kind in ("noisy", "clean"):
        (tmp_path / "pairs" / kind).mkdir(parents=True)
        photo(tmp_path / "pairs" / kind / "a.png", seed=1)
    out = tmp_path / "eval.csv"
    argv = ["--arch", str(srgb_model), "--data", f"pairs:{tmp_path / 'pairs'}"]
    evaluate.main([*argv, "--ensemble", "--out", str(out)])
    table = pd.read_csv(out)
    assert len(table) == 1 and table["noisy_psnr"][0] > 100  # noisy == clean: a perfect input
    assert 0 < table["psnr"][0] < 100 and 0 < table["ssim"][0] < 1
    evaluate.main([*argv, "--out", str(tmp_path / "plain.csv")])
    assert (
        abs(pd.read_csv(tmp_path / "plain.csv")["psnr"][0] - table["psnr"][0]) > 1e-3
    )  # the ensemble ran


def test_a_named_architecture_is_built_for_the_channels_of_the_data(tmp_path, capsys):
    """--arch mwresnet with sRGB data is the 3-channel mwresnet (no sRGB twin name needed), read
    from the source's table or, for pairs:DIR, from its files."""
    for kind in ("noisy", "clean"):
        (tmp_path / "pairs" / kind).mkdir(parents=True)
        photo(tmp_path / "pairs" / kind / "a.png", seed=1)
    for data in ("synthetic-srgb", f"pairs:{tmp_path / 'pairs'}"):
        out = tmp_path / "eval.csv"
        argv = ["--arch", "mwresnet", "--data", data, "--blocks", "1", "--block-size", "16"]
        evaluate.main([*argv, "--no-ssim", "--out", str(out)])
        assert len(pd.read_csv(out)) == 1 and data in capsys.readouterr().out


def test_evaluate_raw_data_with_an_srgb_network_is_one_line(srgb_model, capsys):
    code, err = run_cli(evaluate.main, ["--arch", str(srgb_model), "--data", "synthetic"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0] == (
        "error: the network takes sRGB images (3 channels) but synthetic holds raw mosaics "
        "(1 channel)"
    )


@pytest.mark.parametrize("suffix, bits", [(".png", 8), (".jpg", 8), (".tif", 8)])
def test_denoise_a_photo_with_preview(tmp_path, srgb_model, suffix, bits, capsys):
    src = photo(tmp_path / f"in{suffix}", 37, 45)  # odd sizes: padded and cut back
    dst, preview = tmp_path / f"out{suffix}", tmp_path / "cmp.png"
    denoise.main(
        [
            str(src),
            str(dst),
            "--arch",
            str(srgb_model),
            "--tile",
            "32",
            "--ensemble",
            "--preview",
            str(preview),
        ]
    )
    out, out_bits = read_image(dst)
    assert out.shape == (3, 37, 45) and out_bits == bits
    assert read_image(preview)[0].shape == (3, 37, 90)  # noisy | denoised


def test_denoise_keeps_16_bit_depth(tmp_path, srgb_model):
    import tifffile

    src = tmp_path / "in.tif"
    tifffile.imwrite(src, np.random.default_rng(0).integers(0, 65536, (24, 32, 3), dtype=np.uint16))
    denoise.main([str(src), str(tmp_path / "out.png"), "--arch", str(srgb_model)])
    assert read_image(tmp_path / "out.png")[1] == 16


def test_mismatched_inputs_are_one_line_and_keep_the_output(
    tmp_path, srgb_model, model_file, capsys
):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep me")
    np.save(tmp_path / "mosaic.npy", np.zeros((32, 32), np.float32))
    cases = [
        (
            [str(photo(tmp_path / "p.png")), str(existing), "--arch", str(model_file)],
            "error: " + str(tmp_path / "p.png") + ": an RGB image, not a raw mosaic",
        ),
        (
            [str(tmp_path / "mosaic.npy"), str(existing), "--arch", str(srgb_model)],
            "error: the network takes sRGB images (3 channels) but",
        ),
        (
            [str(tmp_path / "p.png"), str(tmp_path / "out.npy"), "--arch", str(srgb_model)],
            "error: output out.npy: the format for sRGB images",
        ),
        (
            [
                str(tmp_path / "p.png"),
                str(existing),
                "--arch",
                str(srgb_model),
                "--preview",
                "p.npy",
            ],
            "error: --preview p.npy: the format must be one of",
        ),
    ]
    for argv, message in cases:
        code, err = run_cli(denoise.main, argv, capsys)
        assert code == 2 and len(err) == 1 and err[0].startswith(message), err
    assert existing.read_bytes() == b"keep me"


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_denoise_keeps_the_photos_colour_profile_and_exif(tmp_path, srgb_model, suffix):
    from PIL import Image, ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x110], exif[0x112] = "Pixel 8 Pro", 6  # Model; Orientation: turn 90 degrees
    src = tmp_path / "phone.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)).save(
        src, icc_profile=icc, exif=exif
    )
    dst, preview = tmp_path / f"out{suffix}", tmp_path / "cmp.jpg"
    denoise.main([str(src), str(dst), "--arch", str(srgb_model), "--preview", str(preview)])
    assert read_image(dst)[0].shape == (3, 40, 24)  # upright
    assert read_image(preview)[0].shape == (3, 40, 48)  # noisy | denoised
    for path in (dst, preview):
        with Image.open(path) as out:
            assert out.info.get("icc_profile") == icc
            if path.suffix != ".tif":  # a TIFF gets the ICC profile only
                assert out.getexif()[0x110] == "Pixel 8 Pro" and out.getexif().get(0x112, 1) == 1
