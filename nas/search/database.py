"""Evaluation databases: every architecture a run trained, as one table.

A database is a run folder's journal (``evaluations.jsonl``) or a table exported from one
(``evaluations.csv``, or a compressed ``.csv.gz`` such as the one committed under
``bench/data/``). A random-scheme search is how one is made::

    python -m nas.search --space rcab_dense.yaml --selection random --population 300 \\
        --generations 0 --rungs 0.125 0.25 0.5 --out runs/evaldb-rcab_dense

Rows carry the spec as an :class:`~models.ArchSpec`, so features and costs come from the one
codec and the one cost model.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pandas as pd
import yaml

from models import ArchSpec

from ..errors import UserError
from ..atomic import atomic_path, atomic_write_text
from .checkpoint import (
    CHECKPOINT,
    JOURNAL,
    RUN_INFO,
    CheckpointError,
    read_checkpoint,
    read_journal,
)
from .report import evaluations_table
from .space import SearchSpace, parse_stored_space

__all__ = [
    "DatabaseError",
    "load_database",
    "split_diverged",
    "DIVERGED_DROP_DB",
    "export_database",
    "recorded_space",
    "meta_path",
]


class DatabaseError(UserError):
    """A path that holds no evaluation database."""


DIVERGED_DROP_DB = 10.0


def split_diverged(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trained, diverged)``: a training diverged when its final PSNR is more than
    :data:`DIVERGED_DROP_DB` below the best of its own learning curve (ten times the squared
    error it once had). Its PSNR then measures the blow-up, not the architecture (one such row
    moves a mean over a hundred rows visibly), so analyses and surrogates leave such rows out.
    Without a recorded curve (``rungs: []``) no training counts as diverged."""
    if "curve" not in table:
        return table.reset_index(drop=True), table.iloc[0:0]
    best_on_curve = table["curve"].map(
        lambda curve: max((psnr for _, psnr in curve), default=float("-inf"))
    )
    dropped = best_on_curve - table["psnr"] > DIVERGED_DROP_DB
    return table[~dropped].reset_index(drop=True), table[dropped].reset_index(drop=True)


def load_database(path: str | Path, ok_only: bool = True) -> pd.DataFrame:
    """The evaluations at ``path`` (a run folder, a .csv or a .csv.gz) with a parsed ``arch``
    column (ArchSpec) and ``curve`` as a list of (step, psnr); fully trained rows only by
    default."""
    path = Path(path)
    if path.is_dir():
        if not (path / JOURNAL).is_file():
            raise DatabaseError(f"{path}: no {JOURNAL} (not a run folder of this toolkit)")
        table = evaluations_table(read_journal(path))
    elif path.is_file():
        try:
            table = pd.read_csv(path)
        except (
            UnicodeDecodeError,
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            EOFError,
            OSError,
        ) as err:
            raise DatabaseError(f"{path}: not a CSV evaluation table ({err})") from None
    else:
        raise DatabaseError(f"evaluation database not found: {path}")
    missing = {"key", "status", "psnr", "gflops", "spec", "genome"} - set(table.columns)
    if missing:
        raise DatabaseError(f"{path}: not an evaluation table (missing columns {sorted(missing)})")
    if ok_only:
        table = table[table["status"] == "ok"]
    table = table.drop_duplicates("key").reset_index(drop=True)
    return _parsed(table, path)


def _parsed(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``table`` with its spec, genome and curve cells parsed and its metrics numeric."""
    for column in ("psnr", "gflops"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & (table["status"] == "ok")
        if bad.any():
            raise DatabaseError(
                f"{path}: row of {table['key'][bad.idxmax()]}: {column} is not a number"
            )
        table[column] = values
    try:
        table["arch"] = [ArchSpec.from_json(text) for text in table["spec"]]
        table["genome"] = [
            json.loads(text) if isinstance(text, str) else text for text in table["genome"]
        ]
        if "curve" in table:
            table["curve"] = [
                [tuple(p) for p in json.loads(c)] if isinstance(c, str) else []
                for c in table["curve"]
            ]
    except (ValueError, TypeError) as err:
        raise DatabaseError(f"{path}: a malformed spec, genome or curve cell ({err})") from None
    return table


def meta_path(table: Path) -> Path:
    """Where the metadata of an exported table lives: ``NAME.meta.json`` beside ``NAME.csv.gz``."""
    return table.with_name(table.name.removesuffix(".gz").removesuffix(".csv") + ".meta.json")


def recorded_space(path: str | Path) -> SearchSpace | None:
    """The space a database was made with: a run folder's (its checkpoint's), or the ``space`` an
    exported table's ``.meta.json`` records; None when neither is there."""
    path = Path(path)
    if path.is_dir():
        if not (path / CHECKPOINT).is_file():
            return None
        try:
            return parse_stored_space(read_checkpoint(path)["space"], source=f"{path / CHECKPOINT}")
        except (CheckpointError, KeyError) as err:
            raise DatabaseError(
                f"{path}: its {CHECKPOINT} records no readable space ({err})"
            ) from None
    meta = meta_path(path)
    if not meta.is_file():
        return None
    try:
        text = json.loads(meta.read_text()).get("space")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as err:
        raise DatabaseError(f"{meta}: not the metadata of an exported database ({err})") from None
    if not isinstance(text, str):
        return None
    try:
        return parse_stored_space(yaml.safe_load(text), source=str(meta))
    except yaml.YAMLError as err:
        raise DatabaseError(f"{meta}: its space is not YAML ({err})") from None


def export_database(run_dir: Path, out: Path, command: str) -> pd.DataFrame:
    """Write the run's evaluations to ``out`` (.csv.gz) with ``out``.meta.json: the command that
    made the run (from its run.json), the command that exported it, the space and the environment.
    Refuses anything but a run folder as the source and a ``.csv.gz`` in an existing folder as
    ``out``, so an export never overwrites a journal or the table it reads."""
    if not (Path(run_dir) / JOURNAL).is_file():
        raise DatabaseError(f"{run_dir}: export needs a run folder (with {JOURNAL}), not a table")
    if not out.name.endswith(".csv.gz") or out.name == ".csv.gz":
        raise DatabaseError(f"{out}: the export must be a .csv.gz file")
    if not out.parent.is_dir():
        raise DatabaseError(f"{out}: its folder does not exist")
    table, space = evaluations_table(read_journal(run_dir)), recorded_space(run_dir)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, compression="gzip")
    import numpy
    import torch

    info = Path(run_dir) / RUN_INFO
    made_by = json.loads(info.read_text()).get("command") if info.is_file() else None
    meta = {
        "made_by": made_by,
        "exported_by": command,
        "rows": len(table),
        "ok": int((table["status"] == "ok").sum()),
        "space": yaml.safe_dump(space.to_dict(), sort_keys=False) if space else None,
        "environment": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "numpy": numpy.__version__,
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch_threads": torch.get_num_threads(),
        },
    }
    atomic_write_text(meta_path(out), json.dumps(meta, indent=2))
    return table
