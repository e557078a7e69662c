"""The generational search, as a client of the ask/tell engine (the loop in one screen):

    while not engine.finished:
        candidates = engine.ask()                      # the next generation's untrained offspring
        evaluator.evaluate(candidates, generation, tell)   # each result told as it arrives
        engine.save()                                  # the checkpoint, at the generation boundary

Every generation is folded into the scheme by the tell that completes it.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from .engine import SearchEngine
from .result import CandidateResult
from .timeline import utilization_line

__all__ = ["run_generations"]
log = logging.getLogger("nas.search")


def run_generations(
    engine: SearchEngine,
    evaluator,
    progress: Callable | None = None,
    time_budget_s: float | None = None,
) -> bool:
    """The generational search: ask for a generation, train it with ``evaluator``
    (``evaluate(candidates, generation, on_result)``, each result told as it arrives), checkpoint.
    Runs until the last generation, or until one ends with ``time_budget_s`` seconds (of this
    call) spent; returns whether all are done (a stopped run goes on after SearchEngine.resume).
    Logs the slots' utilization at the end."""
    started, total = time.perf_counter(), engine.max_generations
    save = engine.save if engine.run_dir is not None else lambda: None  # in memory: no checkpoint
    if engine.generation == 0:
        save()  # a run killed in generation 0 can be resumed too

    def tell(key: str, result: CandidateResult) -> None:  # an evaluator may report a key twice
        if key in engine.pending:
            engine.tell(key, result)

    while not engine.finished:
        logged = len(engine.logbook)
        candidates = engine.ask()
        if candidates:
            # the generation in the checkpoint's open steps: a scheme that proposes from what it
            # was told (guided) is not asked again after the results of a killed generation
            save()
            results = evaluator.evaluate(candidates, engine.generation - 1, tell)
            for c in candidates:  # anything the evaluator did not report as it went
                tell(c.key, results.get(c.key) or CandidateResult.failed("no result reported"))
        save()
        for entry in engine.logbook[logged:]:
            if progress:
                progress(entry, eta=entry["elapsed"] / (entry["gen"] + 1) * (total - entry["gen"]))
        spent = time_budget_s is not None and time.perf_counter() - started >= time_budget_s
        if spent and not engine.finished:
            break
    log.info(utilization_line(engine.evaluations.values()))
    return engine.finished
