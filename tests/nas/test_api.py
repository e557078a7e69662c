"""The Python API (nas.api): each command's function on tiny inputs returns its typed result,
agrees with what the command prints, prints nothing itself, and raises typed errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import nas.api as api
from models import ArchSpec, GroupSpec, ModelFile, WeightsError, build_model
from models.spec import GROUP_NAMES
from nas.arch import ArchError, save_model_file
from nas.cli import UsageError
from nas.denoise import __main__ as denoise_cli
from nas.evaluate import __main__ as evaluate_cli
from nas.export import __main__ as export_cli
from nas.export.exporter import ExportError
from nas.inference import TilingError
from nas.search.best import ResultError
from nas.train import TrainError
from nas.train import __main__ as train_cli

from .export.test_export import tiny_genome, write_best
from .helpers import tiny_space

TINY_TRAIN = dict(batch_size=2, patch_size=16, val_blocks=2, val_block_size=16)
TINY_TRAIN_ARGV = ["--batch-size", "2", "--patch-size", "16", "--val-blocks", "2"]
TINY_TRAIN_ARGV += ["--val-block-size", "16", "--data", "synthetic", "--threads", "1"]


def tiny_spec():
    return ArchSpec(widths=(8, 8, 8), groups=tuple(GroupSpec("rcab", 1) for _ in GROUP_NAMES))


@pytest.fixture
def model_file(tmp_path):
    """A tiny raw (1-channel) model file."""
    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    save_model_file(path, tiny_spec(), build_model(tiny_spec()).state_dict())
    return path


@pytest.fixture
def best_json(tmp_path):
    space = tiny_space(widths={"level1": [16], "level2": [16], "level3": [32]})
    return write_best(tmp_path / "best.json", space, tiny_genome())


def test_facade_names_the_package_functions():
    from nas.denoise import denoise
    from nas.evaluate import evaluate
    from nas.export import export
    from nas.train import train

    assert (api.export, api.train, api.evaluate, api.denoise) == (export, train, evaluate, denoise)


def test_importing_the_facade_alone_has_no_cycle():
    done = subprocess.run([sys.executable, "-c", "import nas.api"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_export_writes_the_files_it_names(tmp_path, best_json, capsys):
    result = api.export(best_json, tmp_path / "out", formats=["pt"])
    assert capsys.readouterr().out == ""
    assert isinstance(result, api.ExportResult)
    assert result.files == {"pt": tmp_path / "out" / "model.pt"}
    assert ModelFile.load(result.files["pt"]).spec.widths == result.spec.widths == (16, 16, 32)
    info = json.loads(result.model_json.read_text())
    assert (info["key"], info["params"]) == (result.key, result.params)
    assert result.comparison["network"].tolist() == [result.key, "mwrcanet_paper"]
    export_cli.main([str(best_json), "--out", str(tmp_path / "cli"), "--format", "pt"])
    printed = capsys.readouterr().out
    assert f"max abs diff vs eager {result.max_abs_diff['pt']:.2e}" in printed


def test_export_defaults_beside_the_genome_file(best_json):
    result = api.export(best_json)
    assert result.out == best_json.parent / f"export-{result.key}"
    assert set(result.files) == {"pt", "torchscript"} and all(
        p.is_file() for p in result.files.values()
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"formats": ["bogus"]}, ExportError),
        ({"formats": []}, ExportError),
        ({"pick": 3}, ResultError),
    ],
)
def test_export_bad_input_raises_typed_errors(tmp_path, best_json, kwargs, error):
    with pytest.raises(error):
        api.export(best_json, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out" / "model.json").exists()


def test_export_missing_genome_file_raises(tmp_path):
    with pytest.raises(ResultError, match="not found"):
        api.export(tmp_path / "missing.json")


def test_train_returns_a_summary_whose_best_loads(tmp_path, spec_file, capsys):
    argv = ["--arch", str(spec_file), "--steps", "2", "--val-every", "1", *TINY_TRAIN_ARGV]
    train_cli.main([*argv, "--out", str(tmp_path / "cli")])
    printed = capsys.readouterr().out
    summary = api.train(
        spec_file,
        data="synthetic",
        steps=2,
        val_every=1,
        out=tmp_path / "py",
        progress=False,
        **TINY_TRAIN,
    )
    assert capsys.readouterr().out == ""
    assert isinstance(summary, api.TrainSummary) and summary.steps == 2
    assert f"best validation PSNR {summary.best_psnr:.3f} dB after 2 steps" in printed
    assert ModelFile.load(summary.best).spec.widths == (8, 8, 8)
    assert len(pd.read_csv(summary.metrics)) == 2 and summary.final.is_file()


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(tiny_spec().to_json())
    return path


def test_train_takes_a_config_with_settings_over_it(tmp_path, spec_file):
    config = api.TrainConfig(steps=5, batch_size=2, patch_size=16, val_every=1)
    summary = api.train(
        spec_file,
        config=config,
        steps=1,
        out=tmp_path / "run",
        progress=False,
        val_blocks=1,
        val_block_size=16,
    )
    assert summary.steps == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "steps 0"),
        ({}, "steps: required"),
        ({"steps": 1, "bogus": 1}, "bogus"),
        ({"steps": 1, "resume": True, "out": None}, "resume needs out"),
    ],
)
def test_train_bad_config_raises_train_error(kwargs, message):
    with pytest.raises(TrainError, match=message):
        api.train("mwresnet", **kwargs)


def test_train_refuses_an_existing_run_and_bad_weights(tmp_path, spec_file):
    args = dict(data="synthetic", steps=1, out=tmp_path / "run", progress=False, **TINY_TRAIN)
    api.train(spec_file, **args)
    with pytest.raises(TrainError, match="already holds"):
        api.train(spec_file, **args)
    with pytest.raises(WeightsError):
        api.train(spec_file, **{**args, "out": tmp_path / "b", "weights": tmp_path / "no.pth"})
    assert not (tmp_path / "b" / "last.pt").exists()


def test_evaluate_psnr_is_the_commands(tmp_path, model_file, capsys):
    argv = ["--arch", str(model_file), "--data", "synthetic", "--blocks", "2"]
    argv += ["--block-size", "16", "--no-ssim", "--out", str(tmp_path / "cli.csv")]
    evaluate_cli.main(argv)
    printed = capsys.readouterr().out
    result = api.evaluate(
        model_file,
        data="synthetic",
        blocks=2,
        block_size=16,
        ssim=False,
        out=tmp_path / "py.csv",
        progress=False,
    )
    assert capsys.readouterr().out == ""
    assert isinstance(result, api.EvaluationResult) and result.blocks == 2 == len(result.table)
    assert f"{result.psnr:.4f}" in printed and result.psnr == pytest.approx(
        result.table["psnr"].mean()
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "py.csv")[["psnr"]], result.table[["psnr"]]
    )
    assert result.summary()["psnr"].item() == result.psnr


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"arch": "nonexistent_net"}, ArchError),
        ({"overlap": 8}, UsageError),
        ({"tile": 30}, TilingError),
        ({"weights": "/no/such.pth"}, WeightsError),
        ({"out": "/no/such/dir/eval.csv"}, FileNotFoundError),
    ],
)
def test_evaluate_bad_input_raises_typed_errors(kwargs, error):
    with pytest.raises(error):
        api.evaluate(**{"arch": "mwresnet", **kwargs})


def test_denoise_writes_the_output_it_names(tmp_path, model_file, capsys):
    src = tmp_path / "noisy.npy"
    np.save(src, np.random.default_rng(0).random((32, 40), dtype=np.float32))
    denoise_cli.main(
        [str(src), str(tmp_path / "cli.npy"), "--arch", str(model_file), "--cfa", "BGGR"]
    )
    printed = capsys.readouterr().out
    result = api.denoise(
        src, tmp_path / "py.npy", arch=model_file, cfa="BGGR", tile=16, progress=False
    )
    assert capsys.readouterr().out == ""
    assert isinstance(result, api.DenoiseResult) and result.output == tmp_path / "py.npy"
    assert (result.height, result.width, result.cfa, result.network_cfa) == (32, 40, "BGGR", "RGGB")
    np.testing.assert_array_equal(np.load(result.output), result.denoised)
    assert "denoised 32 x 40 BGGR, unified to the network's RGGB in" in printed
    assert printed.split(" in ")[0] == denoise_cli.describe(result).split(" in ")[0]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"output": "out.png"}, UsageError),
        ({"tile": -8}, TilingError),
        ({"tile": 12}, TilingError),
        ({"arch": "nonexistent_net"}, ArchError),
    ],
)
def test_denoise_bad_input_raises_typed_errors(tmp_path, model_file, kwargs, error):
    src = tmp_path / "noisy.npy"
    np.save(src, np.zeros((16, 16), dtype=np.float32))
    kwargs = {"output": "out.npy", "arch": model_file, **kwargs}
    kwargs["output"] = tmp_path / kwargs["output"]
    with pytest.raises(error):
        api.denoise(src, **kwargs)
    assert not kwargs["output"].exists()


def test_command_defaults_are_the_functions():
    evaluate_args = evaluate_cli.build_parser().parse_args(["--arch", "a"])
    denoise_args = denoise_cli.build_parser().parse_args(["i", "o", "--arch", "a"])
    export_args = export_cli.build_parser().parse_args(["g"])
    defaults = {f: api.__dict__[f].__kwdefaults__ for f in ("evaluate", "denoise", "export")}
    assert (evaluate_args.block_size, evaluate_args.batch_size) == (
        defaults["evaluate"]["block_size"],
        defaults["evaluate"]["batch_size"],
    )
    assert (denoise_args.tile, denoise_args.key) == (
        defaults["denoise"]["tile"],
        defaults["denoise"]["key"],
    )
    assert tuple(export_args.format) == defaults["export"]["formats"]
