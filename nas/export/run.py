"""``export``: a search result or genome file to a shippable network, from Python.

from nas.export import export
result = export("runs/NAME/best.json", max_gflops=100)
result.files["pt"]          # runs/NAME/export-KEY/model.pt
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from models import ArchSpec

from ..search.best import read_result
from .exporter import FORMATS, ExportError, compare_with_paper, export_model

__all__ = ["DEFAULT_FORMATS", "ExportResult", "export"]

DEFAULT_FORMATS = ("pt", "torchscript")


@dataclass(frozen=True)
class ExportResult:
    """An exported network: its folder, key, spec and cost, the trained CFA pattern (None for
    an sRGB network), each format's file and its max abs difference from the eager model, and
    ``model.json`` (which records all of it)."""

    out: Path
    key: str
    spec: ArchSpec
    params: int
    gflops_256: float
    cfa: str | None
    files: dict[str, Path]
    max_abs_diff: dict[str, float]
    model_json: Path
    comparison: pd.DataFrame = field(repr=False)
    """The exported network beside ``mwrcanet_paper``: params, GFLOPs at 256 x 256, blocks and
    widths."""


def export(
    genome_file: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    pick: int | None = None,
    max_gflops: float | None = None,
    formats: Iterable[str] = DEFAULT_FORMATS,
    weights: str | os.PathLike | None = None,
) -> ExportResult:
    """Export the network of ``genome_file`` (a run's ``best.json``, a genome file such as
    ``search_spaces/mwrcanet_paper.json``, or an exported ``model.json``) at full width.

    ``out``: the output folder (default: ``export-<key>`` beside ``genome_file``). ``pick``
    exports member N (0-based) of the Pareto set; ``max_gflops`` the best-PSNR member under that
    cost. ``formats``: any of ``pt``, ``torchscript``, ``onnx`` (needs the onnx extra); each is
    checked against the eager model before anything in ``out`` is replaced. ``weights``: trained
    weights to export (default: freshly initialised).

    Raises ResultError for an unreadable or inconsistent genome file, ExportError for an unknown
    format or a format that disagrees with the eager model, WeightsError for unusable weights.
    """
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise ExportError(
            f"format {', '.join(unknown) or '(none)'}: choose from {', '.join(FORMATS)}"
        )
    result = read_result(genome_file, pick=pick, max_gflops=max_gflops)
    out = Path(out) if out else Path(genome_file).resolve().parent / f"export-{result['key']}"
    weights = os.fspath(weights) if weights is not None else None
    info = export_model(result, out, formats=formats, weights=weights)
    return ExportResult(
        out=out,
        key=info["key"],
        spec=result["spec"],
        params=info["params"],
        gflops_256=info["gflops_256"],
        cfa=info["cfa"],
        files={fmt: out / name for fmt, name in info["files"].items()},
        max_abs_diff=dict(info["max_abs_diff"]),
        model_json=out / "model.json",
        comparison=pd.DataFrame(compare_with_paper(info)),
    )
