import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch

from models import ArchSpec, GroupSpec, build_model
from models.spec import GROUP_NAMES
from nas.arch import load_denoiser, save_model_file
from nas.denoise import __main__ as denoise
from nas.inference import DEFAULT_ENSEMBLE_PROTOCOL, denoise_array
from nas.evaluate import __main__ as evaluate
from nas.metrics import psnr_db

from ..helpers import run_cli
from ..test_inference import numpy_plain_x8


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
        (
            ["--arch", "mwresnet", "--ensemble-protocol", "plain"],
            "--ensemble-protocol: invalid choice: 'plain'",
        ),
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


def sidd_blocks(folder, shape=(1, 2, 32, 32)):
    clean = np.random.default_rng(0).random(shape).astype(np.float32) * 0.9
    scipy.io.savemat(
        folder / "ValidationNoisyBlocksRaw.mat", {"ValidationNoisyBlocksRaw": clean + 0.02}
    )
    scipy.io.savemat(folder / "ValidationGtBlocksRaw.mat", {"ValidationGtBlocksRaw": clean})
    return clean.reshape(-1, *shape[-2:]), (clean + 0.02).reshape(-1, *shape[-2:])


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR"])
def test_evaluate_paper_protocol_is_the_plain_x8_and_is_recorded(tmp_path, cfa, capsys):
    # A network trained on ``cfa``, scored on blocks in its own pattern: with the paper's
    # protocol, each block's PSNR is that of a plain numpy x8 of the network on the block as it
    # is (no re-alignment, no wrapper), to 1e-3 dB.
    spec = ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))
    model_file = tmp_path / "net.pt"
    torch.manual_seed(0)
    save_model_file(model_file, spec, build_model(spec).state_dict(), cfa=cfa)
    clean, noisy = sidd_blocks(tmp_path)
    argv = ["--arch", str(model_file), "--data", f"sidd-val:{tmp_path}", "--no-ssim"]
    runs = {
        "paper": ["--ensemble", "--ensemble-protocol", "paper"],
        "paper_implied": ["--ensemble-protocol", "paper"],
        "phase": ["--ensemble-protocol", "phase"],
        "default": ["--ensemble"],
        "single": [],
    }
    tables = {}
    for name, extra in runs.items():
        evaluate.main([*argv, *extra, "--out", str(tmp_path / f"{name}.csv")])
        tables[name] = pd.read_csv(tmp_path / f"{name}.csv")
    printed = capsys.readouterr().out
    model, _ = load_denoiser(str(model_file))
    expected = [psnr_db(numpy_plain_x8(model, n[None])[0], c) for n, c in zip(noisy, clean)]
    np.testing.assert_allclose(tables["paper"]["psnr"], expected, rtol=0, atol=1e-3)
    pd.testing.assert_frame_equal(
        tables["paper"].drop(columns="seconds"), tables["paper_implied"].drop(columns="seconds")
    )
    assert (abs(tables["paper"]["psnr"] - tables["phase"]["psnr"]) > 1e-3).any()
    for name in ("paper", "phase", "default"):
        protocol = DEFAULT_ENSEMBLE_PROTOCOL if name == "default" else name
        assert (tables[name]["ensemble_protocol"] == protocol).all()
    np.testing.assert_allclose(
        tables["default"]["psnr"], tables[DEFAULT_ENSEMBLE_PROTOCOL]["psnr"], rtol=0, atol=1e-9
    )
    assert tables["single"]["ensemble_protocol"].isna().all()
    assert "ensemble_protocol" in printed and "paper" in printed


def test_denoise_runs_the_ensemble_protocol_it_is_given(tmp_path, model_file, capsys):
    noisy = np.random.default_rng(0).random((40, 48)).astype(np.float32)
    np.save(tmp_path / "in.npy", noisy)
    model, pattern = load_denoiser(str(model_file))
    outputs = {}
    for protocol in ("paper", "phase"):
        dst = tmp_path / f"{protocol}.npy"
        denoise.main(
            [str(tmp_path / "in.npy"), str(dst), "--arch", str(model_file), "--tile", "0"]
            + ["--ensemble", "--ensemble-protocol", protocol]
        )
        outputs[protocol] = np.load(dst)
        expected = denoise_array(
            model, noisy, ensemble=True, model_pattern=pattern, ensemble_protocol=protocol
        )
        np.testing.assert_allclose(outputs[protocol], expected, rtol=0, atol=1e-6)
    assert not np.allclose(outputs["paper"], outputs["phase"], atol=1e-4)
    np.testing.assert_allclose(
        outputs["paper"], numpy_plain_x8(model, noisy[None])[0], rtol=0, atol=1e-6
    )
    capsys.readouterr()
    code, err = run_cli(
        denoise.main,
        [str(tmp_path / "in.npy"), str(tmp_path / "x.npy"), "--arch", str(model_file)]
        + ["--ensemble-protocol", "x8"],
        capsys,
    )
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and "'x8'" in err[0]
    assert not (tmp_path / "x.npy").exists()
