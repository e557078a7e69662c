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

from models import ArchSpec

from ..atomic import atomic_path, atomic_write_text
from .checkpoint import JOURNAL, RUN_INFO, read_journal
from .report import evaluations_table

__all__ = ["DatabaseError", "load_database", "export_database"]


class DatabaseError(ValueError):
    """A path that holds no evaluation database."""


def load_database(path: str | Path, ok_only: bool = True) -> pd.DataFrame:
    """The evaluations at ``path`` (a run folder, a .csv or a .csv.gz) with a parsed ``arch``
    column (ArchSpec) and ``curve`` as a list of (step, psnr); fully trained rows only by default."""
    path = Path(path)
    if path.is_dir():
        if not (path / JOURNAL).is_file():
            raise DatabaseError(f"{path}: no {JOURNAL} (not a run folder of this toolkit)")
        table = evaluations_table(read_journal(path))
    elif path.is_file():
        try:
            table = pd.read_csv(path)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, EOFError, OSError) as err:
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
            raise DatabaseError(f"{path}: row of {table['key'][bad.idxmax()]}: {column} is not a number")
        table[column] = values
    try:
        table["arch"] = [ArchSpec.from_json(text) for text in table["spec"]]
        table["genome"] = [json.loads(text) if isinstance(text, str) else text for text in table["genome"]]
        if "curve" in table:
            table["curve"] = [[tuple(p) for p in json.loads(c)] if isinstance(c, str) else [] for c in table["curve"]]
    except (ValueError, TypeError) as err:
        raise DatabaseError(f"{path}: a malformed spec, genome or curve cell ({err})") from None
    return table


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
    table = evaluations_table(read_journal(run_dir))
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, compression="gzip")
    import numpy
    import torch
    info = Path(run_dir) / RUN_INFO
    made_by = json.loads(info.read_text()).get("command") if info.is_file() else None
    meta = {"made_by": made_by, "exported_by": command, "rows": len(table), "ok": int((table["status"] == "ok").sum()),
            "space": (Path(run_dir) / "space.yaml").read_text() if (Path(run_dir) / "space.yaml").is_file() else None,
            "environment": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__,
                            "platform": platform.platform(), "processor": platform.processor(),
                            "torch_threads": torch.get_num_threads()}}
    atomic_write_text(out.with_name(out.name.removesuffix(".csv.gz") + ".meta.json"), json.dumps(meta, indent=2))
    return table
