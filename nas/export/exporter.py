"""Turning a search result (or a genome file) into a shippable full-width network.

Formats: ``pt`` (one file: spec + state dict, loadable with ``weights_only=True``),
``torchscript`` (``torch.jit.trace``) and ``onnx`` (needs the ``onnx`` extra). Each is checked
against the eager model on a random input.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import torch

from models import (
    ModelFile,
    WaveletUNet,
    build_model,
    load_state_dict_strict,
    mwrcanet_paper_spec,
    spec_cost,
)

from ..arch import build_with_weights, read_weights, save_model_file
from ..atomic import atomic_write_text
from ..data.bayer import DEFAULT_PATTERN
from ..errors import UserError

__all__ = ["ExportError", "FORMATS", "MAX_ABS_DIFF", "export_model", "compare_with_paper"]

FORMATS = ("pt", "torchscript", "onnx")
MAX_ABS_DIFF = 1e-4
CHECK_SHAPE = (1, 1, 64, 64)


class ExportError(UserError):
    """An exported format disagrees with the eager model, or cannot be written."""


def _check(name: str, run, model: WaveletUNet, x: torch.Tensor, expected: torch.Tensor) -> float:
    diff = float((run(x) - expected).abs().max())
    if not diff <= MAX_ABS_DIFF:
        raise ExportError(
            f"{name} export differs from the eager model by {diff:.3g} (> {MAX_ABS_DIFF:g})"
        )
    return diff


def export_model(
    result: dict, out_dir: Path, formats=("pt", "torchscript"), weights: str | None = None
) -> dict:
    """Build ``result['spec']`` at full width (with ``weights`` if given), write each format and
    ``model.json``; returns the model.json content (with each format's max abs difference). The
    trained CFA pattern (``cfa``) is the weights file's, RGGB when it records none (None for an
    sRGB network)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = result["spec"]
    torch.manual_seed(0)
    model = build_model(spec).eval()
    pattern = (
        DEFAULT_PATTERN if spec.in_channels == 1 else None
    )  # sRGB networks have no CFA pattern
    if weights:
        state, recorded = read_weights(weights)
        load_state_dict_strict(model, state, source=weights)
        pattern = (recorded or pattern) if pattern else None
    x = torch.rand(
        (1, spec.in_channels, *CHECK_SHAPE[-2:]), generator=torch.Generator().manual_seed(0)
    )
    # every format is written and checked in a staging folder first: a failure replaces nothing
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as staging:
        files, diffs = _write_and_check(model, spec, pattern, formats, x, Path(staging))
        for name in files.values():
            os.replace(Path(staging) / name, out_dir / name)
    cost = spec_cost(spec)
    info = {
        "spec": spec.to_dict(),
        "key": result["key"],
        "params": cost.params,
        "gflops_256": cost.gflops,
        "state_values": cost.state_values,
        "genome": result["genome"],
        "space": result.get("space"),
        "search_metrics": result["metrics"],
        "source": result["source"],
        "run": result.get("run"),
        "weights": weights,
        "cfa": pattern,
        "files": files,
        "max_abs_diff": diffs,
    }
    atomic_write_text(out_dir / "model.json", json.dumps(info, indent=2))
    return info


def _write_and_check(model, spec, pattern, formats, x, staging: Path) -> tuple[dict, dict]:
    files, diffs = {}, {}
    with torch.no_grad():
        expected = model(x)
        if "pt" in formats:
            path = staging / "model.pt"
            save_model_file(path, spec, model.state_dict(), cfa=pattern, source="export")
            reloaded = build_with_weights(spec, ModelFile.load(path).state_dict, "model.pt")
            files["pt"], diffs["pt"] = path.name, _check("pt", reloaded, model, x, expected)
        if "torchscript" in formats:
            path = staging / "model.torchscript.pt"
            with (
                warnings.catch_warnings()
            ):  # the shape guards become constants; export checks sizes below
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                traced = torch.jit.trace(model, x)
            traced.save(str(path))
            loaded = torch.jit.load(str(path))
            files["torchscript"], diffs["torchscript"] = (
                path.name,
                _check("torchscript", loaded, model, x, expected),
            )
        if "onnx" in formats:
            files["onnx"], diffs["onnx"] = _export_onnx(model, x, expected, staging)
    return files, diffs


def _export_onnx(model, x, expected, out_dir: Path) -> tuple[str, float]:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("ONNX export needs the onnx extra: pip install -e '.[onnx]'") from None
    path = out_dir / "model.onnx"
    with warnings.catch_warnings():  # tracing turns the shape guards into constants; checked below
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            (x,),
            str(path),
            input_names=["noisy"],
            output_names=["denoised"],
            dynamic_axes={"noisy": {0: "batch", 2: "height", 3: "width"}},
            dynamo=False,
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(t):
        return torch.from_numpy(session.run(None, {"noisy": t.numpy()})[0])

    return path.name, _check("onnx", run, model, x, expected)


def compare_with_paper(info: dict) -> list[dict]:
    """Rows for the summary table: the exported network beside ``mwrcanet_paper``."""
    paper = spec_cost(mwrcanet_paper_spec(in_channels=info["spec"].get("in_channels", 1)))
    return [
        {
            "network": info["key"],
            "params": info["params"],
            "gflops_256": info["gflops_256"],
            "blocks": sum(g["num_blocks"] * g["num_groups"] for g in info["spec"]["groups"]),
            "widths": "/".join(map(str, info["spec"]["widths"])),
        },
        {
            "network": "mwrcanet_paper",
            "params": paper.params,
            "gflops_256": paper.gflops,
            "blocks": 100,
            "widths": "96/128/128",
        },
    ]
