"""A run folder's persistent state: the checkpoint and the journal, each read and written here only.

* ``checkpoint.json`` (strict JSON, rewritten atomically): the space, the seed, the next
  generation, the scheme's population, the evolution's RNG state and the logbook. The first one
  is written before generation 0 starts, so any run can be resumed.
* ``evaluations.jsonl`` (append-only): one :class:`Evaluation` per line, flushed the moment its
  training ends. A resumed run reuses every line, including those of a generation that was cut
  short; only what was still training runs again.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..atomic import append_line, atomic_write_text
from .result import Evaluation, RecordError

__all__ = [
    "CHECKPOINT",
    "JOURNAL",
    "RUN_INFO",
    "CheckpointError",
    "write_checkpoint",
    "read_checkpoint",
    "append_evaluation",
    "read_journal",
]

CHECKPOINT = "checkpoint.json"
JOURNAL = "evaluations.jsonl"
RUN_INFO = "run.json"  # the command that started the run, and when
VERSION = 2


class CheckpointError(UserError):
    """A run folder cannot be resumed."""


def write_checkpoint(run_dir: Path, state: dict) -> None:
    """Write ``state`` as strict JSON (NaN is refused, never written)."""
    atomic_write_text(
        Path(run_dir) / CHECKPOINT,
        json.dumps({"version": VERSION, **state}, indent=1, allow_nan=False),
    )


def read_checkpoint(run_dir: Path) -> dict:
    """The state written by :func:`write_checkpoint`; CheckpointError names what is wrong."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise CheckpointError(
            f"cannot resume {run_dir}: no {CHECKPOINT} (not a run folder of this toolkit)"
        )
    try:
        state = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_refuse)
    except (UnicodeDecodeError, json.JSONDecodeError, RecordError) as err:
        raise CheckpointError(f"cannot resume {run_dir}: {CHECKPOINT} is damaged ({err})") from None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        found = state.get("version") if isinstance(state, dict) else None
        raise CheckpointError(
            f"cannot resume {run_dir}: {CHECKPOINT} has version {found!r}, "
            f"this toolkit reads {VERSION}"
        )
    return state


def append_evaluation(run_dir: Path, evaluation: Evaluation) -> None:
    """Persist one finished evaluation (one flushed line)."""
    append_line(Path(run_dir) / JOURNAL, evaluation.to_json())


def read_journal(run_dir: Path, repair: bool = False) -> list[Evaluation]:
    """Every evaluation in the journal; a torn last line (the run was killed mid-write, or is
    writing it now) is left out. With ``repair`` (only a writer that is about to append, i.e. a
    resume) the file is rewritten without it, so later appends start on a fresh line; a reader of a
    live run must not, or the line being written would be lost."""
    path = Path(run_dir) / JOURNAL
    if not path.is_file():
        return []
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    evaluations, complete = [], lines[:-1]  # text after the last newline was never finished
    for number, line in enumerate(complete, start=1):
        try:
            evaluations.append(Evaluation.from_json(line))
        except RecordError as err:
            raise CheckpointError(
                f"cannot resume {run_dir}: {JOURNAL} line {number} is damaged ({err})"
            ) from None
    if repair and lines[-1]:
        atomic_write_text(path, "".join(line + "\n" for line in complete))
    return evaluations


def _refuse(name: str):
    raise RecordError(f"not strict JSON: {name}")
