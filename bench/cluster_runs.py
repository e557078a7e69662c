"""One search on the simulated cluster, and the CSV of finished runs that bench_cluster.py resumes.

A run is kept as a :class:`RunRecord`: what it was (scheme, mode, slots, seed, trainings asked
for), when it ended, the slots' utilization over the whole run and until its last launch, and
its best-so-far curve (the (simulated end time, PSNR) of each training that improved the best),
a JSON column, so every figure is derived from the CSV and a changed target needs no rerun.
:class:`RunStore` appends one row per finished run, flushed and synced, and on reopening drops
a row cut short by a kill.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from models import composed_cost
from nas.search.asynchronous import run_asynchronous
from nas.search.database import load_database, split_diverged
from nas.search.engine import SearchEngine
from nas.search.generational import run_generations
from nas.search.result import CandidateResult
from nas.search.simulated import DurationModel, SimulatedCluster
from nas.search.space import load_space
from nas.search.surrogate import Surrogate
from nas.search.timeline import intervals, utilization

MODES = ("generational", "asynchronous")


class World:
    """The simulated trainings: surrogate PSNR and measured (or modelled) seconds, memoised per
    genome key (a genome recurs across runs and seeds)."""

    def __init__(self, space, table) -> None:
        specs = list(table["arch"])
        self.psnr = Surrogate(space.blocks).fit(specs, table["psnr"].to_numpy())
        seconds = Surrogate(space.blocks).fit(specs, table["train_seconds"].to_numpy())
        measured = dict(zip(table["key"], table["train_seconds"]))
        self.durations = DurationModel(measured, lambda c: float(seconds.predict([c.spec])[0]))
        self.scored: dict[str, CandidateResult] = {}

    def score(self, candidates):
        for c in candidates:
            if c.key not in self.scored:
                cost = composed_cost(c.spec)
                psnr = float(self.psnr.predict([c.spec])[0])
                self.scored[c.key] = CandidateResult(
                    "ok", psnr, 0.0, cost.params, cost.gflops, steps=c.budget.steps
                )
        return {c.key: self.scored[c.key] for c in candidates}


_WORLDS: dict[tuple[str, str], tuple[object, World]] = {}


def world_of(space_name: str, db: str):
    """The space and its World, built once per process."""
    if (space_name, db) not in _WORLDS:
        space = load_space(space_name)
        table, _ = split_diverged(load_database(db))
        _WORLDS[space_name, db] = space, World(space, table)
    return _WORLDS[space_name, db]


@dataclass(frozen=True)
class RunRecord:
    """One finished run: its key (scheme, mode, slots, seed, trainings asked for) and results."""

    scheme: str
    mode: str
    slots: int
    seed: int
    trainings: int  # asked for
    told: int  # trainings made (a genome bred twice is trained once)
    end_s: float  # simulated time of the last end
    last_start_s: float  # simulated time of the last launch
    utilization: float  # whole run: first start to last end, the final drain included
    utilization_to_last_start: float  # first start to the last launch: the drain left out
    curve: tuple[tuple[float, float], ...]  # (end time, PSNR) of each improvement of the best

    @property
    def key(self) -> tuple[str, str, int, int, int]:
        return self.scheme, self.mode, self.slots, self.seed, self.trainings

    def best_by(self, seconds: float) -> float:
        done = [p for t, p in self.curve if t <= seconds]
        return max(done) if done else -math.inf

    def time_to(self, target: float) -> float:
        """Simulated seconds until the best reaches ``target``; inf if it never does."""
        return next((t for t, p in self.curve if p >= target), math.inf)


COLUMNS = [f.name for f in fields(RunRecord)]


def improvements(ends: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The (time, PSNR) points, in time order, where the best so far rises."""
    kept, best = [], -math.inf
    for t, p in sorted(ends):
        if p > best:
            kept.append((t, p))
            best = p
    return tuple(kept)


def busy_share(placed, slots: int, until: float) -> float:
    """Busy slot-time from the first start to ``until`` over slots times that span."""
    first = min(i.started for i in placed)
    if until <= first:
        return 1.0
    busy = sum(max(0.0, min(i.ended, until) - i.started) for i in placed)
    return busy / (slots * (until - first))


def children(selection: str, slots: int) -> int:
    return max(1, slots // 4) if selection == "aging" else slots


def one_run(space_name, db, selection, mode, slots, seed, trainings) -> RunRecord:
    """One search on the simulated cluster, population = slots, about ``trainings`` trainings."""
    space, world = world_of(space_name, db)
    generations = math.ceil((trainings - slots) / children(selection, slots))
    configured = space.with_overrides(
        evolution={
            "population": slots,
            "generations": generations,
            "selection": selection,
            "asynchronous": mode == "asynchronous",
        }
    )
    engine = SearchEngine(configured, seed)
    cluster = SimulatedCluster(slots, world.durations, world.score)
    if mode == "asynchronous":
        run_asynchronous(engine, cluster)
    else:
        run_generations(engine, cluster)
    told = list(engine.evaluations.values())
    placed = intervals(told)
    last_start = max(i.started for i in placed)
    return RunRecord(
        selection,
        mode,
        slots,
        seed,
        trainings,
        len(told),
        cluster.now,
        last_start,
        utilization(told, slots),
        busy_share(placed, slots, last_start),
        improvements([(e.result.ended, e.result.psnr) for e in told]),
    )


class StoreError(ValueError):
    """The CSV is not one this script writes."""


class RunStore:
    """The CSV of finished runs: ``load`` what is there, ``append`` one run at a time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> list[RunRecord]:
        """The runs written so far; a last row cut short (no newline) is cut from the file."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        text, header = self.path.read_text(), ",".join(COLUMNS)
        complete = text[: text.rfind("\n") + 1]  # a row cut short by a kill has no newline
        killed_in_header = not complete and header.startswith(text)
        if not killed_in_header and text.split("\n", 1)[0] != header:
            raise StoreError(
                f"{self.path}: not a run CSV of this script (its columns are not {header}); "
                "pass another --csv"
            )
        if complete != text:
            with self.path.open("r+") as handle:
                handle.truncate(len(complete.encode()))
        lines = complete.splitlines()
        return [self._record(row) for row in csv.DictReader(lines)]

    def _record(self, row: dict[str, str]) -> RunRecord:
        try:
            values = {f.name: _parse(f.type, row[f.name]) for f in fields(RunRecord)}
        except (KeyError, TypeError, ValueError) as error:
            raise StoreError(f"{self.path}: a row does not parse ({error})") from None
        return RunRecord(**values)

    def append(self, record: RunRecord) -> None:
        """Write one row (the header first on a new file), flushed and synced."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
            if new:
                writer.writeheader()
            row = asdict(record)
            row["curve"] = json.dumps([list(point) for point in record.curve])
            writer.writerow(row)
            handle.flush()
            os.fsync(handle.fileno())


def _parse(kind: str, text: str):
    if kind == "str":
        return text
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    points = json.loads(text)
    return tuple((float(t), float(p)) for t, p in points)
