"""A search's result: the typed ``best.json`` record, and reading any result or genome file.

:class:`BestRecord` is the one schema of a run's ``best.json``: the engine assembles it
(:meth:`~nas.search.engine.SearchEngine.best`), the report writes it, :func:`read_result` reads
it back. Other genome files (``search_spaces/mwrcanet_paper.json``, an exported ``model.json``)
share its core fields (genome, spec, space) and are read by the same function. The genome is
decoded with the space stored in the file (or named by it) and must agree with the stored spec,
so an exported or trained network is exactly the one the search scored.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, fields
from pathlib import Path
from typing import get_args

from models import ArchSpec, SpecError

from ..errors import UserError
from .genome import GenomeCodec, GenomeError, spec_key
from .result import CandidateResult, RecordError, Status, _JsonRecord, _number, _strict_fields
from .space import SearchSpace, SpaceError, load_space, parse_space

__all__ = ["ResultError", "Metrics", "ParetoMember", "BestRecord", "read_result"]

PARETO_MALFORMED = "'pareto' is malformed (expected a list of members with genome and metrics)"


class ResultError(UserError):
    """A result or genome file cannot be read, or its genome and spec disagree."""


@dataclass(frozen=True)
class Metrics:
    """The headline numbers of one evaluation (:meth:`CandidateResult.metrics`)."""

    psnr: float
    ssim: float
    params: int
    gflops: float
    status: Status
    steps: int = 0  # absent from files written before it was recorded

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "status":
                if self.status not in get_args(Status):
                    raise ValueError(
                        f"status: expected one of {get_args(Status)}, got {self.status!r}"
                    )
                continue
            kind, convert = (numbers.Integral, int) if f.type == "int" else (numbers.Real, float)
            object.__setattr__(self, f.name, _number(f.name, getattr(self, f.name), kind, convert))

    @classmethod
    def of(cls, result: CandidateResult) -> "Metrics":
        return cls(**result.metrics())

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: object) -> "Metrics":
        return cls(**_strict_fields(cls, data, "metrics"))


def _genome(data) -> tuple[int, ...]:
    if not isinstance(data, list):
        raise ValueError(f"genome: expected a list of integers, got {data!r}")
    return tuple(data)


@dataclass(frozen=True)
class ParetoMember:
    """One member of a multi-objective run's Pareto set."""

    key: str
    genome: tuple[int, ...]
    metrics: Metrics

    def to_dict(self) -> dict:
        return {"key": self.key, "genome": list(self.genome), "metrics": self.metrics.to_dict()}

    @classmethod
    def from_dict(cls, data: object) -> "ParetoMember":
        data = _strict_fields(cls, data, "pareto member")
        return cls(str(data["key"]), _genome(data["genome"]), Metrics.from_dict(data["metrics"]))


def _pareto(data: object) -> tuple[ParetoMember, ...]:
    """The members of a ``pareto`` list; RecordError (one message) if it is not one."""
    try:
        if not isinstance(data, list):
            raise TypeError
        return tuple(ParetoMember.from_dict(member) for member in data)
    except (TypeError, ValueError):
        raise RecordError(PARETO_MALFORMED) from None


@dataclass(frozen=True)
class BestRecord(_JsonRecord):
    """A run's ``best.json``: the best evaluation (highest PSNR of the fully trained; ties by key),
    with several objectives the Pareto set, and the space, seed and folder of the run."""

    key: str
    genome: tuple[int, ...]
    spec: ArchSpec
    metrics: Metrics
    space: SearchSpace
    seed: int
    run: str | None = None
    pareto: tuple[ParetoMember, ...] | None = None  # multi-objective runs only

    def to_dict(self) -> dict:
        data = {
            "key": self.key,
            "genome": list(self.genome),
            "spec": self.spec.to_dict(),
            "metrics": self.metrics.to_dict(),
        }
        if self.pareto is not None:
            data["pareto"] = [member.to_dict() for member in self.pareto]
        return {**data, "space": self.space.to_dict(), "seed": self.seed, "run": self.run}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: object) -> "BestRecord":
        data = _strict_fields(cls, data, "best.json")
        try:
            return cls(
                key=str(data["key"]),
                genome=_genome(data["genome"]),
                spec=ArchSpec.from_dict(data["spec"]),
                metrics=Metrics.from_dict(data["metrics"]),
                space=parse_space(data["space"], source="space"),
                seed=_number("seed", data["seed"], numbers.Integral, int),
                run=None if data.get("run") is None else str(data["run"]),
                pareto=None if data.get("pareto") is None else _pareto(data["pareto"]),
            )
        except (TypeError, ValueError) as err:
            raise RecordError(str(err)) from None


def _is_run_best(data: dict) -> bool:
    """Whether ``data`` is what a search run writes (rather than a genome file or model.json)."""
    return isinstance(data.get("space"), dict) and {"key", "metrics", "seed", "run"} <= set(data)


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
            f"{path}: expected a run's best.json or a genome file "
            "(an object with 'genome' and/or 'spec')"
        )
    try:
        best = BestRecord.from_dict(data) if _is_run_best(data) else None
        chosen = {"genome": data.get("genome"), "metrics": data.get("metrics", {})}
        if pick is not None or max_gflops is not None:
            members = best.pareto if best is not None else _members(data.get("pareto"))
            member = _choose_from_pareto(members, path, pick, max_gflops)
            chosen = {"genome": list(member.genome), "metrics": member.metrics.to_dict()}
    except RecordError as err:
        raise ResultError(f"{path}: {err}") from None
    try:
        space = _space_of(data, path)
        spec = None
        stored = data.get("spec") if pick is None and max_gflops is None else None
        if chosen["genome"] is not None:
            if space is None and stored is None:
                raise ResultError(f"{path}: has a genome but no 'space' to decode it with")
            if space is None:
                # an older model.json: the stored spec is the network; an unchecked genome is
                # dropped
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


def _members(pareto: object) -> tuple[ParetoMember, ...] | None:
    return None if pareto is None else _pareto(pareto)


def _choose_from_pareto(
    pareto: tuple[ParetoMember, ...] | None, path: Path, pick: int | None, max_gflops: float | None
) -> ParetoMember:
    if not pareto:
        raise ResultError(
            f"{path}: has no Pareto set ('pareto'); "
            "--pick and --max-gflops need a multi-objective run"
        )
    if pick is not None:
        if not 0 <= pick < len(pareto):
            raise ResultError(
                f"--pick {pick}: the Pareto set has {len(pareto)} members (0..{len(pareto) - 1})"
            )
        return pareto[pick]
    fitting = [m for m in pareto if m.metrics.status == "ok" and m.metrics.gflops <= max_gflops]
    if not fitting:
        cheapest = min(m.metrics.gflops for m in pareto)
        raise ResultError(
            f"--max-gflops {max_gflops:g}: no Pareto member fits "
            f"(the cheapest needs {cheapest:.2f})"
        )
    return max(fitting, key=lambda m: m.metrics.psnr)
