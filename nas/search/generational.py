"""The generational search, as a client of the ask/tell engine (the loop in one screen):

    while not engine.finished:
        candidates = engine.ask()                      # the next generation's untrained offspring
        evaluator.evaluate(candidates, generation, tell)   # each result told as it arrives
        engine.save()                                  # the checkpoint, at the generation boundary

Every generation is folded into the scheme by the tell that completes it.
"""

from __future__ import annotations

import time
from typing import Callable

from .engine import SearchEngine
from .result import CandidateResult

__all__ = ["run_generations"]


def run_generations(
    engine: SearchEngine,
    evaluator,
    progress: Callable | None = None,
    time_budget_s: float | None = None,
) -> bool:
    """The generational search: ask for a generation, train it with ``evaluator``
    (``evaluate(candidates, generation, on_result)``, each result told as it arrives), checkpoint.
    Runs until the last generation, or until one ends with ``time_budget_s`` seconds (of this
    call) spent; returns whether all are done (a stopped run goes on after SearchEngine.resume)."""
    started, total = time.perf_counter(), engine.max_generations
    if engine.generation == 0:
        engine.save()  # a run killed in generation 0 can be resumed too

    def tell(key: str, result: CandidateResult) -> None:  # an evaluator may report a key twice
        if key in engine.pending:
            engine.tell(key, result)

    while not engine.finished:
        logged = len(engine.logbook)
        candidates = engine.ask()
        if candidates:
            results = evaluator.evaluate(candidates, engine.generation - 1, tell)
            for c in candidates:  # anything the evaluator did not report as it went
                tell(c.key, results.get(c.key) or CandidateResult.failed("no result reported"))
        engine.save()
        for entry in engine.logbook[logged:]:
            if progress:
                progress(entry, eta=entry["elapsed"] / (entry["gen"] + 1) * (total - entry["gen"]))
        spent = time_budget_s is not None and time.perf_counter() - started >= time_budget_s
        if spent and not engine.finished:
            return False
    return True
