"""A simulated cluster: a discrete-event clock, N slots, each training's duration and fitness
from models (a database's measured ``train_seconds``, a surrogate's PSNR), so the real engine and
schemes run hours of a cluster in seconds (``bench/bench_cluster.py``, tests).

It is both a generational evaluator (``evaluate``: a generation starts on every slot at once,
longest first by the same closed-form cost as :class:`~nas.search.evaluators.RayEvaluator`, and
ends with its last training) and an asynchronous backend (``run``: a free slot takes the next
candidate the moment a training ends). Every result is placed: its slot, start and end on the
virtual clock, node ``simulated``. A free slot is the lowest-numbered one; trainings that end at
the same time are told in slot order.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import Callable

from .evaluators import OnResult, relative_cost
from .result import Candidate, CandidateResult

__all__ = ["SimulatedCluster", "DurationModel"]

Score = Callable[[list[Candidate]], dict[str, CandidateResult]]


class DurationModel:
    """Seconds a candidate trains: the measured time of a genome in ``measured`` (key ->
    seconds), else ``estimate(candidate)`` (a cost model fitted on them); memoised by key."""

    def __init__(self, measured: dict[str, float], estimate: Callable[[Candidate], float]) -> None:
        self.measured, self.estimate = dict(measured), estimate

    def __call__(self, candidate: Candidate) -> float:
        if candidate.key not in self.measured:
            self.measured[candidate.key] = max(0.0, float(self.estimate(candidate)))
        return self.measured[candidate.key]


class SimulatedCluster:
    """``slots`` parallel places on a virtual clock (``now``, seconds from 0). ``duration`` and
    ``score`` (candidates -> results by key, e.g. SurrogateEvaluator.score) model a training."""

    def __init__(self, slots: int, duration: Callable[[Candidate], float], score: Score) -> None:
        if slots < 1:
            raise ValueError(f"slots: at least 1, got {slots}")
        self.slots, self.duration, self.score = slots, duration, score
        self.now = 0.0

    def _placed(self, candidate: Candidate, slot: int, started: float) -> CandidateResult:
        result = self.score([candidate])[candidate.key]
        seconds = self.duration(candidate)
        return replace(
            result,
            started=started,
            ended=started + seconds,
            train_seconds=seconds,
            node="simulated",
            slot=slot,
        )

    # ---- generational: an evaluator for run_generations -----------------------------------
    def evaluate(
        self, candidates: list[Candidate], generation: int, on_result: OnResult | None = None
    ) -> dict[str, CandidateResult]:
        """Train a generation: every slot free at ``now``; each candidate, longest first, on the
        slot that frees first; the clock ends at the last end (the generation's barrier)."""
        free = [(self.now, slot) for slot in range(self.slots)]
        ended = []
        for candidate in sorted(candidates, key=lambda c: -relative_cost(c)):
            start, slot = heapq.heappop(free)
            result = self._placed(candidate, slot, start)
            heapq.heappush(free, (result.ended, slot))
            ended.append((result.ended, slot, candidate.key, result))
        results = {}
        for end, _, key, result in sorted(ended, key=lambda item: item[:2]):
            self.now = max(self.now, end)
            results[key] = result
            if on_result:
                on_result(key, result)
        return results

    # ---- asynchronous: a backend for run_asynchronous ---------------------------------------
    def run(self, session) -> None:
        """Until the session is exhausted and nothing trains: fill every free slot with the
        session's next candidate, then advance the clock to the next end and report it."""
        free, running = list(range(self.slots)), []
        while True:
            while free:
                candidate = session.next_candidate()
                if candidate is None:
                    break
                slot = heapq.heappop(free)
                result = self._placed(candidate, slot, self.now)
                heapq.heappush(running, (result.ended, slot, candidate.key, result))
            if not running:
                return  # done, or nothing to hand out and nothing that could change that
            end, slot, key, result = heapq.heappop(running)
            self.now = end
            heapq.heappush(free, slot)
            session.report(key, result)
