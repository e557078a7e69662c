import numpy as np
import pandas as pd
import pytest
import scipy.io

from nas.arch import load_denoiser
from nas.denoise import __main__ as denoise
from nas.inference import denoise_array
from nas.evaluate import __main__ as evaluate

from ..helpers import run_cli


def test_evaluate_sidd_layout_writes_per_block_csv(tmp_path, model_file, capsys):
    clean = np.random.default_rng(0).random((2, 2, 32, 32)).astype(np.float32)
    scipy.io.savemat(
        tmp_path / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": clean + 0.02}
    )
    scipy.io.savemat(tmp_path / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})
    out = tmp_path / "eval.csv"
    evaluate.main(
        [
            "--arch",
            str(model_file),
            "--data",
            f"sidd-val:{tmp_path}",
            "--ensemble",
            "--out",
            str(out),
        ]
    )
    table = pd.read_csv(out)
    assert len(table) == 4 and {"psnr", "ssim", "block"} <= set(table.columns)
    assert np.isfinite(table["psnr"]).all()
    printed = capsys.readouterr().out
    assert "psnr" in printed and f"{table['psnr'].mean():.4f}" in printed


@pytest.mark.parametrize("tile", [8, 16, 24, 32])
def test_evaluate_with_small_tiles(tmp_path, model_file, tile):
    # an untrained network sees other context in small tiles: scores differ; one tile is the whole
    clean = np.random.default_rng(0).random((1, 2, 32, 32)).astype(np.float32)
    scipy.io.savemat(
        tmp_path / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": clean + 0.02}
    )
    scipy.io.savemat(tmp_path / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})
    argv = ["--arch", str(model_file), "--data", f"sidd-val:{tmp_path}", "--no-ssim"]
    evaluate.main([*argv, "--tile", str(tile), "--out", str(tmp_path / "tiled.csv")])
    evaluate.main([*argv, "--out", str(tmp_path / "whole.csv")])
    tiled, whole = (
        pd.read_csv(tmp_path / "tiled.csv")["psnr"],
        pd.read_csv(tmp_path / "whole.csv")["psnr"],
    )
    assert np.isfinite(tiled).all()
    if tile >= 32:
        np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-6)
    else:
        assert (abs(tiled - whole) > 1e-3).all()  # --tile reached the inference


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--arch", "nonexistent_net"], "neither a named architecture"),
        (["--arch", "mwresnet", "--data", "sidd-val:/no/such/dir"], "folder not found"),
        (["--arch", "mwresnet", "--tile", "30"], "multiple of 8"),
        (
            ["--arch", "mwresnet", "--tile", "16", "--overlap", "16"],
            "tile overlap must be a multiple of 8 in [0, 16)",
        ),
        (["--arch", "mwresnet", "--overlap", "8"], "--overlap needs --tile"),
        (["--arch", "mwresnet", "--weights", "/no/such.pth"], "weights file not found"),
        (["--arch", "mwresnet", "--batch-size", "0"], "at least 1"),
        (["--arch", "mwresnet", "--blocks", "-5"], "at least 1"),
        (["--arch", "mwresnet", "--block-size", "0"], "at least 1"),
        (["--arch", "mwresnet", "--block-size", "12"], "multiple of 8"),
        (["--arch", "mwresnet", "--threads", "0"], "at least 1"),
        (["--arch", "mwresnet", "--threads", "100000"], "this process may use"),
    ],
)
def test_evaluate_bad_input_is_one_line(argv, message, capsys):
    code, err = run_cli(evaluate.main, argv, capsys)
    assert code == 2 and len(err) == 1 and message in err[0] and err[0].startswith("error:")


def test_corrupt_model_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_text("garbage")
    code, err = run_cli(evaluate.main, ["--arch", str(bad)], capsys)
    message = "cannot read weights"
    assert code == 2 and len(err) == 1 and message in err[0] and err[0].startswith("error:")


@pytest.mark.parametrize("suffix", [".npy", ".mat"])
def test_denoise_round_trips_format(tmp_path, model_file, suffix):
    noisy = np.random.default_rng(0).random((60, 84)).astype(np.float32)
    src, dst = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".npy":
        np.save(src, noisy)
    else:
        scipy.io.savemat(src, {"x": noisy})
    denoise.main([str(src), str(dst), "--arch", str(model_file), "--tile", "32", "--overlap", "8"])
    out = np.load(dst) if suffix == ".npy" else scipy.io.loadmat(dst)["x"]
    assert out.shape == noisy.shape and out.dtype == np.float32
    model, pattern = load_denoiser(str(model_file))
    expected = denoise_array(model, noisy, tile=32, overlap=8, model_pattern=pattern)
    np.testing.assert_allclose(
        out, expected, rtol=0, atol=1e-6
    )  # the network's output, not just its shape


def test_denoise_bad_input_keeps_existing_output(tmp_path, model_file, capsys):
    dst = tmp_path / "out.npy"
    np.save(dst, np.ones((4, 4), np.float32))
    np.save(tmp_path / "stack.npy", np.zeros((2, 8, 8), np.float32))
    code, err = run_cli(
        denoise.main, [str(tmp_path / "stack.npy"), str(dst), "--arch", str(model_file)], capsys
    )
    assert code == 2 and "2-D mosaic" in err[0]
    np.testing.assert_array_equal(np.load(dst), np.ones((4, 4), np.float32))


def test_denoise_refuses_to_write_over_its_input(tmp_path, model_file, capsys):
    noisy = tmp_path / "same.npy"
    np.save(noisy, np.full((16, 16), 0.5, np.float32))
    before = noisy.read_bytes()
    code, err = run_cli(
        denoise.main,
        [str(noisy), str(tmp_path / "." / "same.npy"), "--arch", str(model_file)],
        capsys,
    )
    assert code == 2 and len(err) == 1 and "is the input" in err[0]
    assert noisy.read_bytes() == before


def test_evaluate_blocks_in_another_pattern(tmp_path, model_file, capsys):
    # BGGR crops of RGGB blocks, scored after cropping back into RGGB: the same as scoring those
    # RGGB blocks
    clean = np.random.default_rng(0).random((2, 34, 34)).astype(np.float32) * 0.9
    noisy = clean + 0.02
    for name, window, cfa in (
        ("bggr", np.s_[:, 1:33, 1:33], "BGGR"),
        ("rggb", np.s_[:, 2:32, 2:32], "RGGB"),
    ):
        (tmp_path / name / "noisy").mkdir(parents=True)
        (tmp_path / name / "clean").mkdir()
        np.save(tmp_path / name / "noisy" / "a.npy", noisy[window])
        np.save(tmp_path / name / "clean" / "a.npy", clean[window])
        evaluate.main(
            [
                "--arch",
                str(model_file),
                "--data",
                f"pairs:{tmp_path / name}",
                "--cfa",
                cfa,
                "--ensemble",
                "--no-ssim",
                "--threads",
                "1",
                "--out",
                str(tmp_path / f"{name}.csv"),
            ]
        )
    bggr, rggb = pd.read_csv(tmp_path / "bggr.csv"), pd.read_csv(tmp_path / "rggb.csv")
    assert len(bggr) == 2
    np.testing.assert_allclose(bggr["psnr"], rggb["psnr"], rtol=0, atol=1e-6)
    capsys.readouterr()
    code, err = run_cli(evaluate.main, ["--arch", str(model_file), "--cfa", "XTRANS"], capsys)
    assert code == 2 and "invalid choice" in err[0]
