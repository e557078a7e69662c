"""The search as Python functions: what ``python -m nas.search`` runs, for notebooks and scripts.

    from nas.search import search, resume
    outcome = search("rcab_dense.yaml", generations=1, out="runs/try")
    print(outcome.best.key, outcome.best.metrics.psnr)
    outcome = resume("runs/try", time_budget_s=3600)

Every writer holds the run folder's lock (:mod:`nas.runlock`) while it runs, so a second process
on the same folder is refused with :class:`~nas.runlock.RunFolderInUse`; ``check`` and
:func:`configure` only read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from ..atomic import atomic_write_text
from ..data import training_sampler, validation_set
from ..errors import UserError
from ..runlock import run_lock
from .best import BestRecord
from .checkpoint import CHECKPOINT, RUN_INFO
from .engine import SearchEngine
from .asynchronous import RayBackend, run_asynchronous
from .evaluators import RayEvaluator, check_resources, dashboard_help, start_ray
from .generational import run_generations
from .report import write_reports
from .space import SearchSpace, load_space

__all__ = ["SearchOutcome", "SearchSettingError", "OVERRIDES", "RESOURCE_OVERRIDES"]
__all__ += ["configure", "plan", "search", "resume", "check", "default_run_dir"]

log = logging.getLogger("nas.search")

# Keyword overrides of a space, by the section they belong to (the command line's flags).
OVERRIDES = {
    "seed": ("top", "seed"),
    "population": ("evolution", "population"),
    "generations": ("evolution", "generations"),
    "trainings": ("evolution", "trainings"),
    "selection": ("evolution", "selection"),
    "steps": ("budget", "steps"),
    "warmup_steps": ("budget", "warmup_steps"),
    "width_multiplier": ("budget", "width_multiplier"),
    "patch_size": ("budget", "patch_size"),
    "data": ("budget", "data"),
    "val_data": ("budget", "val_data"),
    "rungs": ("budget", "rungs"),
    "cpus": ("resources", "cpus"),
    "gpus": ("resources", "gpus"),
    "max_concurrent": ("resources", "max_concurrent"),
}
# What may change when a run is resumed: where and how wide it runs, never what it searches.
RESOURCE_OVERRIDES = ("cpus", "gpus", "max_concurrent")

Progress = Callable[[dict, float, int], None]  # logbook entry, ETA (s), generations


class SearchSettingError(UserError):
    """A search cannot start or resume as asked (an unknown or fixed setting, an occupied
    folder)."""


@dataclass(frozen=True)
class SearchOutcome:
    """What a search call leaves: its run folder, the best result so far, and whether every
    generation is done (False: the time budget was spent; :func:`resume` goes on)."""

    run_dir: Path
    best: BestRecord
    finished: bool
    generations_done: int
    generations: int
    ran: bool = True
    dashboard: str | None = None


def _sections(overrides: dict) -> dict[str, dict]:
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        known = ", ".join(OVERRIDES)
        raise SearchSettingError(f"unknown search setting {unknown[0]!r} (known: {known})")
    sections: dict[str, dict] = {}
    for name, value in overrides.items():
        section, field = OVERRIDES[name]
        sections.setdefault(section, {})[field] = value
    return sections


def configure(space: str | Path | SearchSpace = "rcab_dense.yaml", **overrides) -> SearchSpace:
    """The space (a bundled name, a YAML path, or a SearchSpace) with ``overrides`` applied
    (:data:`OVERRIDES`; None leaves a field as it is), its data checked now rather than in
    every trial."""
    loaded = space if isinstance(space, SearchSpace) else load_space(space)
    configured = loaded.with_overrides(**_sections(overrides))
    budget = configured.budget
    sampler = training_sampler(budget.data, configured.in_channels)
    sampler.check_patch(budget.patch_size)
    validation_set(
        budget.val_data or budget.data,
        budget.val_blocks,
        budget.val_block_size,
        configured.in_channels,
    )
    return configured


def plan(space: SearchSpace) -> str:
    """One line: what a search of ``space`` will train."""
    e, b, r = space.evolution, space.budget, space.resources
    warmup = f" ({b.warmup_steps} of warm-up)" if b.warmup_steps else ""
    return (
        f"space {space.name}: {e.selection}, population {e.population}, {e.generations} "
        f"generations, at most {e.trainings} trainings of {b.steps} steps{warmup} on "
        f"{b.patch_size}-pixel patches at width x{b.width_multiplier} on {b.data}; "
        f"{r.cpus:g} CPU and {r.gpus:g} GPU per trial"
    )


def default_run_dir(space: SearchSpace) -> Path:
    """``runs/<space name>-<timestamp>``."""
    return Path("runs") / f"{space.name}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def search(
    space: str | Path | SearchSpace = "rcab_dense.yaml",
    *,
    out: str | Path | None = None,
    address: str | None = None,
    time_budget_s: float | None = None,
    progress: Progress | None = None,
    announce: Callable[[str], None] = log.info,
    command: str | None = None,
    **overrides,
) -> SearchOutcome:
    """Run a new search of ``space`` (see :func:`configure` for ``overrides``) into ``out``
    (default :func:`default_run_dir`) on Ray (local, or the cluster at ``address``), until its
    last generation or until a generation ends with ``time_budget_s`` spent.
    ``progress(entry, eta_seconds, generations)`` is called after each generation with its
    logbook entry, and ``announce(line)`` with the dashboard's and the run folder's address
    before training (in asynchronous mode also with a progress line every
    ``evolution.children()`` results). ``command`` is recorded in run.json (default: this
    process's command line)."""
    configured = configure(space, **overrides)
    run_dir = Path(out) if out is not None else default_run_dir(configured)
    if run_dir.exists() and not run_dir.is_dir():
        raise SearchSettingError(f"{run_dir}: is a file, not a folder")
    with run_lock(run_dir):
        if (run_dir / CHECKPOINT).exists():
            raise SearchSettingError(
                f"{run_dir} already holds a run; continue it with resume (--resume {run_dir}) "
                "or choose another folder"
            )
        dashboard = _start(address, configured, announce)
        engine = _start_new_run(run_dir, configured, command)
        return _drive(engine, time_budget_s, progress, announce, dashboard)


def resume(
    run_dir: str | Path,
    *,
    address: str | None = None,
    time_budget_s: float | None = None,
    progress: Progress | None = None,
    announce: Callable[[str], None] = log.info,
    **resources,
) -> SearchOutcome:
    """Continue the run in ``run_dir`` from its checkpoint and journal: every finished training
    is reused. Only the resources (``cpus``, ``gpus``, ``max_concurrent``) may change."""
    fixed = sorted(set(resources) - set(RESOURCE_OVERRIDES))
    if fixed:
        raise SearchSettingError(
            f"a resumed run keeps its configuration; {fixed[0]!r} cannot change "
            f"(only {', '.join(RESOURCE_OVERRIDES)} and the address may)"
        )
    run_dir = Path(run_dir)
    with run_lock(run_dir):
        engine = SearchEngine.resume(run_dir)
        engine.space = engine.space.with_overrides(**_sections(resources))
        if engine.finished:
            return _outcome(engine, None, ran=False)
        dashboard = _start(address, engine.space, announce)
        return _drive(engine, time_budget_s, progress, announce, dashboard)


def check(run_dir: str | Path) -> SearchEngine:
    """The run in ``run_dir`` as it stands, read only (its journal is never repaired)."""
    return SearchEngine.resume(Path(run_dir), repair=False)


def _start(address: str | None, space: SearchSpace, announce) -> str | None:
    dashboard = start_ray(address)
    announce(dashboard_help(dashboard))
    check_resources(space.resources)  # before anything is written: a trial must fit somewhere
    return dashboard


def _start_new_run(run_dir: Path, space: SearchSpace, command: str | None) -> SearchEngine:
    atomic_write_text(run_dir / "space.yaml", yaml.safe_dump(space.to_dict(), sort_keys=False))
    command = command or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    info = {"command": command, "started": dt.datetime.now().isoformat()}
    atomic_write_text(run_dir / RUN_INFO, json.dumps(info))
    return SearchEngine(space, space.seed, run_dir)


def _drive(
    engine: SearchEngine,
    time_budget_s: float | None,
    progress: Progress | None,
    announce,
    dashboard: str | None,
) -> SearchOutcome:
    announce(f"run folder: {engine.run_dir}")
    space = engine.space
    if space.evolution.asynchronous:  # no generation barrier: one Tuner for the whole search

        def after_results(state) -> None:
            write_reports(engine)
            announce(state.line())

        run_asynchronous(
            engine,
            RayBackend.for_space(engine.run_dir, space.resources),
            progress=after_results,
            time_budget_s=time_budget_s,
            report_every=space.evolution.children(),
        )
        return _outcome(engine, dashboard)

    def after_generation(entry: dict, eta: float) -> None:
        write_reports(engine)
        if progress:
            progress(entry, eta, space.evolution.generations)

    run_generations(
        engine,
        RayEvaluator.for_space(engine.run_dir, space.resources),
        progress=after_generation,
        time_budget_s=time_budget_s,
    )
    return _outcome(engine, dashboard)


def _outcome(engine: SearchEngine, dashboard: str | None, ran: bool = True) -> SearchOutcome:
    best = write_reports(engine)
    done = min(engine.generation, engine.space.evolution.generations + 1)
    return SearchOutcome(
        run_dir=engine.run_dir,
        best=best,
        finished=engine.finished,
        generations_done=done,
        generations=engine.space.evolution.generations,
        ran=ran,
        dashboard=dashboard,
    )
