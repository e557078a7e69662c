"""The asynchronous search: no generation barrier. The moment a training ends its result is told
and a child is asked for, so no slot waits for the slowest training of a generation.

    run_asynchronous(engine, backend)   # backend.run(session) until session.exhausted:
        candidate = session.next_candidate()   # when a slot is free: ask(1), or None for now
        session.report(key, result)            # when a training ends: tell, checkpoint

With a steady-state scheme (``evolution.asynchronous: true``: random, tournament, aging) a child
is bred whenever a slot frees; a generational scheme driven this way still waits at its
barrier (the engine hands out nothing until a generation is in), which is how the simulated
cluster compares both on one clock.

Ray design: one Tune ``Tuner`` for the whole search, fed by a ``Searcher`` whose ``suggest``
asks the engine (:class:`RayBackend`). Tune keeps doing what it is for: it reuses the actors
(a fresh worker pays for importing torch), runs ASHA over every trial's rungs, retries a
crashed worker (its FailureConfig) and calls the run's callbacks; the driver only answers
``suggest`` and the journal callback. Ray actors driven directly would cut the per-trial
overhead further but lose all of that; Tune's overhead per trial is small against a training
(bench/README.md, "Asynchronous evolution on a real Ray").

What asynchronous mode promises (resume):
* every finished training is in the journal the moment it ends, in the order results were told,
  and is never trained again; the checkpoint is rewritten after every result;
* a resumed run restores the scheme, the evolution's RNG and the open steps of the last
  checkpoint, folds in any journalled result the checkpoint had not seen yet, then asks again
  for what was training when it stopped (same candidates, same seeds) before anything new: it
  proposes from the same history;
* unlike generational mode it does not promise the same best.json as an uninterrupted run: which
  child is bred next depends on the order trainings end, which varies from run to run anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from .engine import SearchEngine
from .result import Candidate, CandidateResult
from .timeline import utilization_line

__all__ = ["AsyncBackend", "AsyncSession", "Progress", "run_asynchronous", "RayBackend"]

log = logging.getLogger("nas.search")


@dataclass(frozen=True)
class Progress:
    """Where an asynchronous search stands, after a result."""

    told: int  # trainings finished so far (this run, every session)
    total: int  # trainings the search makes in all
    best: float  # best PSNR so far (dB)
    running: int  # trainings in flight
    elapsed: float  # seconds, every session

    def line(self) -> str:
        return (
            f"trained {self.told:>4}/{self.total}  best {self.best:7.3f} dB  "
            f"running {self.running}  elapsed {self.elapsed / 60:.1f} min"
        )


class AsyncSession:
    """The engine as a backend sees it: candidates when a slot frees, results when one ends."""

    def __init__(
        self,
        engine: SearchEngine,
        progress: Callable[[Progress], None] | None = None,
        time_budget_s: float | None = None,
        save: bool = True,
        report_every: int = 1,
    ) -> None:
        self.engine, self.progress, self.save = engine, progress, save
        self.deadline = None if time_budget_s is None else time.perf_counter() + time_budget_s
        self.report_every = max(1, report_every)
        e = engine.space.evolution
        self.total = e.trainings

    @property
    def exhausted(self) -> bool:
        """Nothing more will be handed out: the search is done, or its time budget spent."""
        spent = self.deadline is not None and time.perf_counter() >= self.deadline
        return self.engine.finished or spent

    def next_candidate(self) -> Candidate | None:
        """A candidate for a free slot, or None (nothing now: a barrier, or exhausted)."""
        if self.exhausted:
            return None
        handed = self.engine.ask(1)
        if handed and self.save:
            self.engine.save()  # the candidate in flight is in the checkpoint's open steps
        return handed[0] if handed else None

    def report(self, key: str, result: CandidateResult) -> None:
        """A training ended: tell it (a key told already, e.g. by a retried trial, is ignored)."""
        if key not in self.engine.pending:
            return
        self.engine.tell(key, result)
        if self.save:
            self.engine.save()
        told = len(self.engine.evaluations)
        if self.progress and (told % self.report_every == 0 or self.engine.finished):
            ok = [e.result.psnr for e in self.engine.evaluations.values() if e.result.ok]
            self.progress(
                Progress(
                    told,
                    self.total,
                    max(ok, default=float("nan")),
                    len(self.engine.pending),
                    self.engine.elapsed(),
                )
            )


class AsyncBackend(Protocol):
    """Runs trainings on its slots: ``run(session)`` asks ``session.next_candidate()`` whenever
    a slot is free and calls ``session.report`` as each ends, until the session is exhausted and
    nothing is in flight."""

    def run(self, session: AsyncSession) -> None: ...


def run_asynchronous(
    engine: SearchEngine,
    backend: AsyncBackend,
    progress: Callable[[Progress], None] | None = None,
    time_budget_s: float | None = None,
    report_every: int = 1,
) -> bool:
    """The asynchronous search on ``backend`` until the engine is finished, or until
    ``time_budget_s`` seconds (of this call) are spent (trainings in flight then finish; nothing
    new starts). Checkpoints after every result when the engine has a run folder; calls
    ``progress`` every ``report_every`` results; logs the slots' utilization at the end. Returns
    whether the search is done (a stopped run goes on after SearchEngine.resume)."""
    save = engine.run_dir is not None
    if save:
        engine.save()  # a run killed before its first result can be resumed too
    session = AsyncSession(engine, progress, time_budget_s, save, report_every)
    backend.run(session)
    if save:
        engine.save()
    log.info(utilization_line(engine.evaluations.values()))
    return engine.finished


class RayBackend:
    """Ray Tune as an asynchronous backend: one Tuner, its trials suggested by the engine.

    ``evaluator`` (a :class:`~nas.search.evaluators.RayEvaluator`) gives the resources, the
    failure config, the extra callbacks and the run folder; ``trainable`` replaces the fitness
    training (a benchmark's stand-in); ``slots`` caps the trials at once (default: the
    evaluator's ``max_concurrent``, else as many as the cluster's resources allow)."""

    def __init__(self, evaluator, trainable=None, slots: int | None = None) -> None:
        self.evaluator, self.trainable = evaluator, trainable
        self.slots = slots or evaluator.max_concurrent
        # times Tune had room for a trial and the engine, with more to propose, had none to give
        self.waits = 0

    @classmethod
    def for_space(cls, run_dir, resources, **evaluator_options) -> "RayBackend":
        from .evaluators import RayEvaluator

        return cls(RayEvaluator.for_space(run_dir, resources, **evaluator_options))

    def run(self, session: AsyncSession) -> None:
        from ray import tune

        from .evaluators import fitness_trainable, scheduler
        from .recovery import retry_log

        ev = self.evaluator
        trainable = self.trainable or ev.trainable or fitness_trainable()

        def name(trial) -> str:
            return trial.config["candidate"].key

        retries = retry_log(name, ev.max_retries)

        tuner = tune.Tuner(
            tune.with_resources(trainable, ev.resources),
            param_space=ev.trial_config(),
            tune_config=tune.TuneConfig(
                search_alg=_engine_searcher(session, ev.trial_config(), self, retries),
                num_samples=-1,
                trial_name_creator=name,
                trial_dirname_creator=name,
                reuse_actors=True,
                max_concurrent_trials=self.slots,
                scheduler=scheduler(session.engine.space.budget),
            ),
            run_config=ev.run_config(
                f"asynchronous-{time.strftime('%Y%m%d-%H%M%S')}", name, session.report, retries
            ),
        )
        tuner.fit()


def _engine_searcher(session: AsyncSession, config: dict, backend: RayBackend, retries):
    """A Tune Searcher whose suggestions are the engine's candidates (results reach the engine
    through the journal callback, which also knows the trial's slot). A candidate whose trial
    Tune gave up on early (``retries``, the run's RetryLog) is suggested again first."""
    from ray.tune.search import Searcher

    class EngineSearcher(Searcher):
        def __init__(self) -> None:
            super().__init__(metric="psnr", mode="max")
            self.handed: dict[str, Candidate] = {}  # key -> candidate suggested
            self.restarts: list[Candidate] = []

        def suggest(self, trial_id: str):
            self.restarts += [self.handed[key] for key in retries.take_restarts()]
            if self.restarts:
                return {**config, "candidate": self.restarts.pop(0)}
            candidate = session.next_candidate()
            if candidate is None:
                if session.exhausted:
                    return Searcher.FINISHED
                engine = session.engine
                if engine.generation <= engine.max_generations:  # not just the last ones draining
                    backend.waits += 1
                return None
            self.handed[candidate.key] = candidate
            return {**config, "candidate": candidate}

        def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
            pass

    return EngineSearcher()
