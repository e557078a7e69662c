"""Turning a search result (or a genome file) into a shippable full-width network.

Formats: ``pt`` (one file: spec + state dict, loadable with ``weights_only=True``),
``torchscript`` (``torch.jit.trace``) and ``onnx`` (needs the ``onnx`` extra). Each is checked
against the eager model on a random input.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from models import ArchSpec, SpecError, WaveletUNet, build_model, load_state_dict_strict, mwrcanet_paper_spec, \
    read_state_dict, spec_cost

from .arch import atomic_write_text, build_with_weights, save_model_file
from .genome import GenomeCodec, GenomeError, spec_key
from .space import SpaceError, load_space, parse_space

__all__ = ["ExportError", "FORMATS", "MAX_ABS_DIFF", "read_result", "export_model", "compare_with_paper"]

FORMATS = ("pt", "torchscript", "onnx")
MAX_ABS_DIFF = 1e-4
CHECK_SHAPE = (1, 1, 64, 64)


class ExportError(ValueError):
    """A genome file cannot be exported, or an exported format disagrees with the eager model."""


def _space_of(data: dict, path: Path):
    space = data.get("space")
    if isinstance(space, dict):
        return parse_space(space, source=f"{path}: space")
    if isinstance(space, str):
        candidate = (path.parent / space) if (path.parent / space).is_file() else space
        return load_space(candidate)
    return None


def read_result(path: str | Path, pick: int | None = None, max_gflops: float | None = None) -> dict:
    """The chosen candidate of a ``best.json`` / genome file: ``{spec, genome, key, metrics, source}``.

    ``pick`` selects member N of the Pareto set; ``max_gflops`` the best-PSNR member under that
    cost. The genome is decoded with the file's space and must agree with the stored spec.
    """
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"genome file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ExportError(f"{path}: invalid JSON ({err})") from None
    if not isinstance(data, dict) or not ({"genome", "spec"} & set(data)):
        raise ExportError(f"{path}: expected a run's best.json or a genome file (an object with 'genome' and/or 'spec')")
    chosen = {"genome": data.get("genome"), "metrics": data.get("metrics", {})}
    if pick is not None or max_gflops is not None:
        chosen = _choose_from_pareto(data, path, pick, max_gflops)
    try:
        space = _space_of(data, path)
        spec = None
        if chosen["genome"] is not None:
            if space is None:
                raise ExportError(f"{path}: has a genome but no 'space' to decode it with")
            spec = GenomeCodec(space).decode(chosen["genome"])
        stored = data.get("spec") if pick is None and max_gflops is None else None
        if stored is not None:
            stored_spec = ArchSpec.from_dict(stored)
            if spec is not None and (spec.widths, spec.groups) != (stored_spec.widths, stored_spec.groups):
                raise ExportError(f"{path}: genome decodes to {spec_key(spec)} but the stored spec is "
                                  f"{spec_key(stored_spec)}")
            spec = stored_spec if spec is None else ArchSpec.from_dict({**spec.to_dict(), "name": stored_spec.name})
    except (SpecError, GenomeError, SpaceError) as err:
        raise ExportError(f"{path}: {err}") from None
    return {"spec": spec, "genome": chosen["genome"], "key": spec_key(spec), "metrics": chosen["metrics"],
            "source": str(path), "run": data.get("run")}


def _choose_from_pareto(data: dict, path: Path, pick: int | None, max_gflops: float | None) -> dict:
    pareto = data.get("pareto")
    if not pareto:
        raise ExportError(f"{path}: has no Pareto set ('pareto'); --pick and --max-gflops need a multi-objective run")
    if pick is not None:
        if not 0 <= pick < len(pareto):
            raise ExportError(f"--pick {pick}: the Pareto set has {len(pareto)} members (0..{len(pareto) - 1})")
        return pareto[pick]
    fitting = [m for m in pareto if m["metrics"]["status"] == "ok" and m["metrics"]["gflops"] <= max_gflops]
    if not fitting:
        cheapest = min(m["metrics"]["gflops"] for m in pareto)
        raise ExportError(f"--max-gflops {max_gflops:g}: no Pareto member fits (the cheapest needs {cheapest:.2f})")
    return max(fitting, key=lambda m: m["metrics"]["psnr"])


def _check(name: str, run, model: WaveletUNet, x: torch.Tensor, expected: torch.Tensor) -> float:
    diff = float((run(x) - expected).abs().max())
    if not diff <= MAX_ABS_DIFF:
        raise ExportError(f"{name} export differs from the eager model by {diff:.3g} (> {MAX_ABS_DIFF:g})")
    return diff


def export_model(result: dict, out_dir: Path, formats=("pt", "torchscript"), weights: str | None = None) -> dict:
    """Build ``result['spec']`` at full width (with ``weights`` if given), write each format and
    ``model.json``; returns the model.json content (with each format's max abs difference)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = result["spec"]
    torch.manual_seed(0)
    model = build_model(spec).eval()
    if weights:
        load_state_dict_strict(model, read_state_dict(weights), source=weights)
    x = torch.rand(CHECK_SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        files, diffs = {}, {}
        if "pt" in formats:
            path = out_dir / "model.pt"
            save_model_file(path, spec, model.state_dict(), key=result["key"])
            reloaded = build_with_weights(spec, read_state_dict(path), source=str(path))
            files["pt"], diffs["pt"] = path.name, _check("pt", reloaded, model, x, expected)
        if "torchscript" in formats:
            path = out_dir / "model.torchscript.pt"
            with warnings.catch_warnings():   # the shape guards become constants; export checks sizes below
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                traced = torch.jit.trace(model, x)
            traced.save(str(path))
            loaded = torch.jit.load(str(path))
            files["torchscript"], diffs["torchscript"] = path.name, _check("torchscript", loaded, model, x, expected)
        if "onnx" in formats:
            files["onnx"], diffs["onnx"] = _export_onnx(model, x, expected, out_dir)
    cost = spec_cost(spec)
    info = {"spec": spec.to_dict(), "key": result["key"], "params": cost.params, "gflops_256": cost.gflops,
            "state_values": cost.state_values, "genome": result["genome"], "search_metrics": result["metrics"],
            "source": result["source"], "run": result.get("run"), "weights": weights, "files": files,
            "max_abs_diff": diffs}
    atomic_write_text(out_dir / "model.json", json.dumps(info, indent=2))
    return info


def _export_onnx(model, x, expected, out_dir: Path) -> tuple[str, float]:
    try:
        import onnxruntime
    except ImportError:
        raise ExportError("ONNX export needs the onnx extra: pip install -e '.[onnx]'") from None
    path = out_dir / "model.onnx"
    with warnings.catch_warnings():   # tracing turns the shape guards into constants; checked below
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(model, (x,), str(path), input_names=["noisy"], output_names=["denoised"],
                          dynamic_axes={"noisy": {0: "batch", 2: "height", 3: "width"}}, dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    run = lambda t: torch.from_numpy(session.run(None, {"noisy": t.numpy()})[0])
    return path.name, _check("onnx", run, model, x, expected)


def compare_with_paper(info: dict) -> list[dict]:
    """Rows for the summary table: the exported network beside ``mwrcanet_paper``."""
    paper = spec_cost(mwrcanet_paper_spec())
    return [{"network": info["key"], "params": info["params"], "gflops_256": info["gflops_256"],
             "blocks": sum(g["num_blocks"] * g["num_groups"] for g in info["spec"]["groups"]),
             "widths": "/".join(map(str, info["spec"]["widths"]))},
            {"network": "mwrcanet_paper", "params": paper.params, "gflops_256": paper.gflops, "blocks": 100,
             "widths": "96/128/128"}]
