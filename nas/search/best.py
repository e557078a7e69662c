"""Reading a search result: a run's ``best.json`` or a genome file, decoded with its own space.

The genome is decoded with the space stored in the file (or named by it) and must agree with the
stored spec, so an exported or trained network is exactly the one the search scored.
"""

from __future__ import annotations

import json
from pathlib import Path

from models import ArchSpec, SpecError

from .genome import GenomeCodec, GenomeError, spec_key
from .space import SpaceError, load_space, parse_space

__all__ = ["ResultError", "read_result"]


class ResultError(ValueError):
    """A result or genome file cannot be read, or its genome and spec disagree."""


def _space_of(data: dict, path: Path):
    space = data.get("space")
    if isinstance(space, dict):
        return parse_space(space, source=f"{path}: space")
    if isinstance(space, str):
        candidate = (path.parent / space) if (path.parent / space).is_file() else space
        return load_space(candidate)
    return None


def read_result(path: str | Path, pick: int | None = None, max_gflops: float | None = None) -> dict:
    """The chosen candidate of a ``best.json`` / genome file / exported ``model.json``:
    ``{spec, genome, key, metrics, source, run, space}``.

    ``pick`` selects member N of the Pareto set; ``max_gflops`` the best-PSNR member under that
    cost. The genome is decoded with the file's space and must agree with the stored spec; a file
    with a spec but no space (an older ``model.json``) gives its spec and no genome.
    """
    path = Path(path)
    if not path.is_file():
        raise ResultError(f"genome file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ResultError(f"{path}: invalid JSON ({err})") from None
    if not isinstance(data, dict) or not ({"genome", "spec"} & set(data)):
        raise ResultError(
            f"{path}: expected a run's best.json or a genome file (an object with 'genome' and/or 'spec')"
        )
    chosen = {"genome": data.get("genome"), "metrics": data.get("metrics", {})}
    if pick is not None or max_gflops is not None:
        chosen = _choose_from_pareto(data, path, pick, max_gflops)
    try:
        space = _space_of(data, path)
        spec = None
        stored = data.get("spec") if pick is None and max_gflops is None else None
        if chosen["genome"] is not None:
            if space is None and stored is None:
                raise ResultError(f"{path}: has a genome but no 'space' to decode it with")
            if (
                space is None
            ):  # an older model.json: the stored spec is the network; an unchecked genome is dropped
                chosen = {**chosen, "genome": None}
            else:
                spec = GenomeCodec(space).decode(chosen["genome"])
        if stored is not None:
            stored_spec = ArchSpec.from_dict(stored)
            if spec is not None and (
                (spec.widths, spec.groups, spec.in_channels)
                != (stored_spec.widths, stored_spec.groups, stored_spec.in_channels)
            ):
                raise ResultError(
                    f"{path}: genome decodes to {spec_key(spec)} but the stored spec is "
                    f"{spec_key(stored_spec)}"
                )
            spec = (
                stored_spec
                if spec is None
                else ArchSpec.from_dict({**spec.to_dict(), "name": stored_spec.name})
            )
    except (SpecError, GenomeError, SpaceError) as err:
        raise ResultError(f"{path}: {err}") from None
    return {
        "spec": spec,
        "genome": chosen["genome"],
        "key": spec_key(spec),
        "metrics": chosen["metrics"],
        "source": str(path),
        "run": data.get("run"),
        "space": space.to_dict() if space is not None else None,
    }


def _is_member(member: object) -> bool:
    metrics = member.get("metrics") if isinstance(member, dict) else None
    return (
        isinstance(metrics, dict)
        and "genome" in member
        and metrics.get("status") in ("ok", "failed", "stopped")
        and all(
            isinstance(metrics.get(k), (int, float)) and not isinstance(metrics.get(k), bool)
            for k in ("psnr", "gflops")
        )
    )


def _choose_from_pareto(data: dict, path: Path, pick: int | None, max_gflops: float | None) -> dict:
    pareto = data.get("pareto")
    if not pareto:
        raise ResultError(
            f"{path}: has no Pareto set ('pareto'); --pick and --max-gflops need a multi-objective run"
        )
    if not isinstance(pareto, list) or not all(_is_member(m) for m in pareto):
        raise ResultError(
            f"{path}: 'pareto' is malformed (expected a list of members with genome and metrics)"
        )
    if pick is not None:
        if not 0 <= pick < len(pareto):
            raise ResultError(
                f"--pick {pick}: the Pareto set has {len(pareto)} members (0..{len(pareto) - 1})"
            )
        return pareto[pick]
    fitting = [
        m for m in pareto if m["metrics"]["status"] == "ok" and m["metrics"]["gflops"] <= max_gflops
    ]
    if not fitting:
        cheapest = min(m["metrics"]["gflops"] for m in pareto)
        raise ResultError(
            f"--max-gflops {max_gflops:g}: no Pareto member fits (the cheapest needs {cheapest:.2f})"
        )
    return max(fitting, key=lambda m: m["metrics"]["psnr"])
