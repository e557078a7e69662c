import numpy as np
import pandas as pd
import pytest
import scipy.io

from nas.denoise import __main__ as denoise
from nas.evaluate import __main__ as evaluate

from ..helpers import run_cli


def test_evaluate_sidd_layout_writes_per_block_csv(tmp_path, model_file, capsys):
    clean = np.random.default_rng(0).random((2, 2, 32, 32)).astype(np.float32)
    scipy.io.savemat(tmp_path / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": clean + 0.02})
    scipy.io.savemat(tmp_path / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})
    out = tmp_path / "eval.csv"
    evaluate.main(["--arch", str(model_file), "--data", f"sidd-val:{tmp_path}", "--ensemble", "--out", str(out)])
    table = pd.read_csv(out)
    assert len(table) == 4 and {"psnr", "ssim", "block"} <= set(table.columns)
    assert np.isfinite(table["psnr"]).all()
    printed = capsys.readouterr().out
    assert "psnr" in printed and f"{table['psnr'].mean():.4f}" in printed


@pytest.mark.parametrize("tile", [8, 16, 24])
def test_evaluate_with_small_tiles(tmp_path, model_file, tile):
    clean = np.random.default_rng(0).random((1, 2, 32, 32)).astype(np.float32)
    scipy.io.savemat(tmp_path / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": clean + 0.02})
    scipy.io.savemat(tmp_path / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})
    out = tmp_path / "eval.csv"
    evaluate.main(["--arch", str(model_file), "--data", f"sidd-val:{tmp_path}", "--tile", str(tile), "--out", str(out)])
    assert np.isfinite(pd.read_csv(out)["psnr"]).all()


@pytest.mark.parametrize("argv, message", [
    (["--arch", "nonexistent_net"], "neither a named architecture"),
    (["--arch", "mwresnet", "--data", "sidd-val:/no/such/dir"], "folder not found"),
    (["--arch", "mwresnet", "--tile", "30"], "multiple of 8"),
    (["--arch", "mwresnet", "--tile", "16", "--overlap", "16"], "tile overlap must be a multiple of 8 in [0, 16)"),
    (["--arch", "mwresnet", "--overlap", "8"], "--overlap needs --tile"),
    (["--arch", "mwresnet", "--weights", "/no/such.pth"], "weights file not found"),
    (["--arch", "mwresnet", "--batch-size", "0"], "at least 1"),
    (["--arch", "mwresnet", "--blocks", "-5"], "at least 1"),
    (["--arch", "mwresnet", "--block-size", "0"], "at least 1"),
    (["--arch", "mwresnet", "--block-size", "12"], "multiple of 8"),
    (["--arch", "mwresnet", "--threads", "0"], "at least 1"),
    (["--arch", "mwresnet", "--threads", "100000"], "this machine has"),
])
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


def test_denoise_bad_input_keeps_existing_output(tmp_path, model_file, capsys):
    dst = tmp_path / "out.npy"
    np.save(dst, np.ones((4, 4), np.float32))
    np.save(tmp_path / "stack.npy", np.zeros((2, 8, 8), np.float32))
    code, err = run_cli(denoise.main, [str(tmp_path / "stack.npy"), str(dst), "--arch", str(model_file)], capsys)
    assert code == 2 and "2-D mosaic" in err[0]
    np.testing.assert_array_equal(np.load(dst), np.ones((4, 4), np.float32))


def test_denoise_refuses_to_write_over_its_input(tmp_path, model_file, capsys):
    noisy = tmp_path / "same.npy"
    np.save(noisy, np.full((16, 16), 0.5, np.float32))
    before = noisy.read_bytes()
    code, err = run_cli(denoise.main, [str(noisy), str(tmp_path / "." / "same.npy"), "--arch", str(model_file)], capsys)
    assert code == 2 and len(err) == 1 and "is the input" in err[0]
    assert noisy.read_bytes() == before


def test_evaluate_blocks_in_another_pattern(tmp_path, model_file, capsys):
    # the same RGGB blocks, and their BGGR crops: scored after cropping back into RGGB
    (tmp_path / "rggb" / "noisy").mkdir(parents=True)
    (tmp_path / "rggb" / "clean").mkdir()
    clean = np.random.default_rng(0).random((2, 32, 32)).astype(np.float32)
    np.save(tmp_path / "rggb" / "noisy" / "a.npy", clean + 0.02)
    np.save(tmp_path / "rggb" / "clean" / "a.npy", clean)
    evaluate.main(["--arch", str(model_file), "--data", f"pairs:{tmp_path / 'rggb'}", "--cfa", "BGGR",
                   "--ensemble", "--no-ssim", "--threads", "1", "--out", str(tmp_path / "eval.csv")])
    assert len(pd.read_csv(tmp_path / "eval.csv")) == 2
    capsys.readouterr()
    code, err = run_cli(evaluate.main, ["--arch", str(model_file), "--cfa", "XTRANS"], capsys)
    assert code == 2 and "invalid choice" in err[0]
