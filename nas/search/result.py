"""The records that cross the boundary between the search and its workers, written once.

* :class:`Candidate` goes to a worker: the spec, the budget and the seed, as typed values.
* :class:`CandidateResult` comes back: the metrics of one fitness evaluation, or its failure.
* :class:`Evaluation` is what the run keeps: a candidate's genome, spec and seed with its result.

Every record round-trips through strict JSON (no NaN, no unknown or missing fields), so the
checkpoint, the journal and the tables all read and write the same schema.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Literal, get_args

from models import ArchSpec

from .space import Budget

__all__ = [
    "FAILED_PSNR",
    "PLACEMENT",
    "RecordError",
    "Candidate",
    "CandidateResult",
    "Evaluation",
    "WORST",
]

FAILED_PSNR = -1.0  # below any real score: outputs are clipped to [0, 1], so real PSNR >= 0 dB
# The fitness a failed candidate gets, per objective: never better than any real one.
WORST = {"psnr": FAILED_PSNR, "gflops": 1e12, "params": 1e15}
Status = Literal["ok", "failed", "stopped"]


class RecordError(ValueError):
    """A stored record does not match its schema."""


def _number(name: str, value, kind: type, convert):
    """``value`` as ``convert`` if a ``kind`` number (booleans are not); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    return convert(value)


def _strict_fields(cls, data: object, where: str) -> dict:
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    unknown, missing = set(data) - names, required - set(data)
    if unknown or missing:
        raise RecordError(
            f"{where}: unknown fields {sorted(unknown)}, missing fields {sorted(missing)}"
        )
    return data


class _JsonRecord:
    """Strict JSON (no NaN) for a record with ``to_dict`` / ``from_dict``."""

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(_loads(text))


@dataclass(frozen=True)
class Candidate:
    """One fitness evaluation to run: ``spec`` (full width) trained at ``budget`` with ``seed``."""

    key: str
    spec: ArchSpec
    budget: Budget
    seed: int


@dataclass(frozen=True)
class CandidateResult(_JsonRecord):
    """The outcome of one fitness evaluation.

    ``status`` is ``ok`` (trained to ``steps``, scored), ``stopped`` (an early-stopping scheduler
    ended it at ``steps``; its PSNR is that of a partial training) or ``failed`` (``error`` says
    why; PSNR is :data:`FAILED_PSNR`). ``curve`` holds (step, validation PSNR) at each rung.

    Where and when it ran (unset for a result that never ran on a slot, e.g. a surrogate's):
    ``started`` and ``ended`` (seconds: Unix time, or a simulated cluster's clock), ``node`` and
    ``gpu`` (Ray's node id and GPU ids; empty when none), ``slot`` (which of the run's parallel
    places; the rows of timeline.png) and ``retries`` (times the trial was started again after a
    worker failed). The JSON leaves out those still at their defaults, so a record without them
    reads and writes as before.
    """

    status: Status
    psnr: float
    ssim: float
    params: int
    gflops: float
    steps: int = 0
    final_loss: float | None = None
    train_seconds: float = 0.0
    curve: tuple[tuple[int, float], ...] = ()
    error: str = ""
    started: float | None = None
    ended: float | None = None
    node: str = ""
    gpu: str = ""
    slot: int | None = None
    retries: int = 0

    def __post_init__(self) -> None:
        if self.status not in get_args(Status):
            raise ValueError(
                f"status: expected one of {', '.join(get_args(Status))}, got {self.status!r}"
            )
        for name in ("psnr", "ssim", "gflops", "train_seconds"):
            object.__setattr__(self, name, _number(name, getattr(self, name), numbers.Real, float))
        for name in ("params", "steps"):
            object.__setattr__(
                self, name, _number(name, getattr(self, name), numbers.Integral, int)
            )
        for name in ("started", "ended"):
            if getattr(self, name) is not None:
                object.__setattr__(
                    self, name, _number(name, getattr(self, name), numbers.Real, float)
                )
        for name in ("slot", "retries"):
            if getattr(self, name) is not None:
                object.__setattr__(
                    self, name, _number(name, getattr(self, name), numbers.Integral, int)
                )
        for name in ("error", "node", "gpu"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name}: expected a string, got {getattr(self, name)!r}")
        object.__setattr__(self, "curve", tuple((int(s), float(p)) for s, p in self.curve))
        if self.final_loss is not None and not math.isfinite(self.final_loss):
            object.__setattr__(self, "final_loss", None)

    @classmethod
    def failed(
        cls,
        error: str,
        params: int = 0,
        gflops: float = 0.0,
        train_seconds: float = 0.0,
        steps: int = 0,
    ) -> "CandidateResult":
        """A failure: worst PSNR, the error's first line (at most 300 characters)."""
        first_line = (str(error).strip().splitlines() or ["unknown error"])[0][:300]
        return cls(
            status="failed",
            psnr=FAILED_PSNR,
            ssim=0.0,
            params=params,
            gflops=gflops,
            steps=steps,
            train_seconds=train_seconds,
            error=first_line,
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def metrics(self) -> dict:
        """The headline numbers: psnr, ssim, params, gflops, status, steps."""
        return {
            "psnr": self.psnr,
            "ssim": self.ssim,
            "params": self.params,
            "gflops": self.gflops,
            "status": self.status,
            "steps": self.steps,
        }

    def fitness(self, objectives: list[str]) -> tuple[float, ...]:
        """Objective values for DEAP; anything not fully trained gets the worst value of each."""
        if not self.ok:
            return tuple(WORST[o] for o in objectives)
        return tuple(float(getattr(self, o)) for o in objectives)

    @property
    def placed(self) -> bool:
        """Whether it holds where and when it ran (a slot, a start and an end)."""
        return self.slot is not None and self.started is not None and self.ended is not None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["curve"] = [list(point) for point in self.curve]
        for name in PLACEMENT:
            if data[name] == _PLACEMENT_DEFAULTS[name]:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: object) -> "CandidateResult":
        data = _strict_fields(cls, data, "result")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:
            raise RecordError(f"result: {err}") from None


@dataclass(frozen=True)
class Evaluation(_JsonRecord):
    """One trained candidate as the run keeps it (checkpoint, journal, evaluations.csv)."""

    generation: int
    key: str
    genome: tuple[int, ...]
    spec: ArchSpec
    seed: int
    result: CandidateResult
    extra: dict = field(default_factory=dict)  # scheme-specific bookkeeping; kept as plain JSON
    # The named budget it was trained at when that is not its run's own (a proxy-fidelity
    # study's column, e.g. "steps=1200"); None for a search's evaluations.
    fidelity: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "genome", tuple(self.genome))
        if self.fidelity is not None and not isinstance(self.fidelity, str):
            raise ValueError(f"fidelity: expected a string, got {self.fidelity!r}")

    def to_dict(self) -> dict:
        data = {
            "generation": self.generation,
            "key": self.key,
            "genome": list(self.genome),
            "spec": self.spec.to_dict(),
            "seed": self.seed,
            "result": self.result.to_dict(),
            "extra": self.extra,
        }
        if self.fidelity is not None:  # a search's journal lines stay as they were
            data["fidelity"] = self.fidelity
        return data

    @classmethod
    def from_dict(cls, data: object) -> "Evaluation":
        data = _strict_fields(cls, data, "evaluation")
        try:
            extra, fidelity = dict(data.get("extra", {})), data.get("fidelity")
            if fidelity is None and "fidelity" in extra:  # a study journalled before the field
                fidelity = extra.pop("fidelity")
            return cls(
                generation=int(data["generation"]),
                key=str(data["key"]),
                genome=tuple(data["genome"]),
                spec=ArchSpec.from_dict(data["spec"]),
                seed=int(data["seed"]),
                result=CandidateResult.from_dict(data["result"]),
                extra=extra,
                fidelity=fidelity,
            )
        except (TypeError, ValueError) as err:
            raise RecordError(f"evaluation {data.get('key')}: {err}") from None

    def to_row(self) -> dict:
        """A flat row of evaluations.csv: identity, every result field, genome and spec as JSON."""
        result = {**_PLACEMENT_DEFAULTS, **self.result.to_dict()}
        result["curve"] = json.dumps(result["curve"])
        return {
            "generation": self.generation,
            "key": self.key,
            **result,
            "seed": self.seed,
            "genome": json.dumps(list(self.genome)),
            "spec": self.spec.to_json(),
            **({"fidelity": self.fidelity} if self.fidelity is not None else {}),
        }


PLACEMENT = ("started", "ended", "node", "gpu", "slot", "retries")  # where and when it ran
_PLACEMENT_DEFAULTS = {f.name: f.default for f in fields(CandidateResult) if f.name in PLACEMENT}


def _loads(text: str) -> object:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise RecordError(f"invalid JSON ({err})") from None


def _refuse_constant(name: str):
    raise RecordError(f"not strict JSON: {name}")
