"""The search engine, ask/tell: DEAP's toolbox and a selection scheme propose, a client trains.

    engine = SearchEngine(space, seed, run_dir)
    candidates = engine.ask(n)        # up to n new candidates: never scored, never pending
    engine.tell(key, result)          # journalled; a step whose results are all in is folded in
    engine.state_dict()               # the checkpoint (load_state_dict, or SearchEngine.resume)

A *step* is what the scheme proposes at once: the initial population, then a generation (or,
for a steady-state scheme, a batch of children). Proposed keys already scored are resolved from
the cache without training; the rest are handed out by ``ask`` once each and are *pending* until
told. A generational scheme's next step is proposed only when the last is folded in; a
steady-state scheme (``scheme.steady_state``) is asked for more while others are pending.
:func:`nas.search.generational.run_generations` is the generational client loop;
``bench/bench_search.py`` and ``nas.fidelity`` drive the engine directly.

A resumed run restores the checkpoint (scheme, RNG, logbook, open steps) and the journal (every
finished evaluation), so it re-proposes the same offspring and trains only what had not
finished. On CPU it ends with the same ``best.json`` as an uninterrupted run.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from deap import base, creator, tools

from .best import BestRecord, Metrics, ParetoMember
from .checkpoint import (
    JOURNAL,
    CheckpointError,
    append_evaluation,
    read_checkpoint,
    read_journal,
    write_checkpoint,
)
from .fitness import candidate_seed
from .genome import GenomeCodec, GenomeError
from .result import FAILED_PSNR, Candidate, CandidateResult, Evaluation
from .schemes import Scheme, make_scheme
from .space import SearchSpace, SpaceError, parse_stored_space

__all__ = ["SearchEngine", "CheckpointError"]

log = logging.getLogger("nas.search")
_SIGN = {"psnr": 1.0, "gflops": -1.0, "params": -1.0}
LOGBOOK_HEADER = ["gen", "evals", "cached", "failed", "stopped", "best", "median", "elapsed"]


def _deap_classes(objectives: list[str]):
    """DEAP fitness and individual classes for these objectives (created once per signature)."""
    suffix = "_".join(objectives)
    fitness, individual = f"Fitness_{suffix}", f"Genome_{suffix}"
    if not hasattr(creator, fitness):
        creator.create(fitness, base.Fitness, weights=tuple(_SIGN[o] for o in objectives))
        creator.create(individual, list, fitness=getattr(creator, fitness))
    return getattr(creator, individual)


@dataclass
class _Step:
    """One proposal of the scheme: its offspring (DEAP individuals) and the keys not yet told."""

    generation: int
    offspring: list
    waiting: set[str] = field(default_factory=set)


class SearchEngine:
    """One search over ``space`` with run seed ``seed``; ``run_dir`` holds its journal and
    checkpoint (None: in memory only). ``scheme`` defaults to the space's selection scheme;
    ``max_generations`` (default: the scheme's ``steps()``, the space's ``evolution.generations``
    or, in steady state, one step per child; ``math.inf`` for a client that stops on its own
    count) is the last step proposed. ``fidelity`` names the budget of a
    study that is not the space's own; it is recorded in every evaluation."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        run_dir: Path | None = None,
        *,
        scheme: Scheme | None = None,
        max_generations: float | None = None,
        fidelity: str | None = None,
    ) -> None:
        self.space, self.seed, self.fidelity = space, seed, fidelity
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.codec = GenomeCodec(space)
        self.objectives = space.objectives
        self.Individual = _deap_classes(self.objectives)
        self.scheme = scheme or make_scheme(space.evolution)
        self.max_generations = self.scheme.steps() if max_generations is None else max_generations
        self.toolbox = base.Toolbox()
        self.toolbox.register(
            "individual", lambda: self.Individual(self.codec.random_genome(random))
        )
        self.toolbox.register("genome", lambda genome: self.Individual(list(genome)))
        self.toolbox.register("key", self.codec.key)
        # keys proposed and not yet told (a model-guided scheme counts them as taken)
        self.toolbox.register("pending", lambda: frozenset(self.pending) | frozenset(self._queue))
        self.toolbox.register("mate", self._mate)
        self.toolbox.register("mutate", self._mutate)
        self.evaluations: dict[str, Evaluation] = {}  # every told result, in the order told
        self._trained: dict[int, int] = {}  # evaluations told, per generation
        self._best_seen = FAILED_PSNR
        self.pending: dict[str, Candidate] = {}  # handed out by ask, not yet told
        self._queue: dict[str, tuple[tuple[int, ...], int]] = {}  # key -> (genome, generation)
        self._asked: dict[str, tuple[tuple[int, ...], int]] = {}
        self._steps: list[_Step] = []  # proposed and not yet folded in
        self.logbook = tools.Logbook()
        self.logbook.header = LOGBOOK_HEADER
        self.generation = 0  # steps proposed so far: the next step's index
        self.elapsed_before, self._clock = 0.0, time.perf_counter()
        self.rng_state = random.Random(seed).getstate()

    # ---- variation (DEAP operators wrapping the codec) ------------------------------------------
    def _mate(self, a, b):
        a[:], b[:] = self.codec.crossover(a, b, random)
        return a, b

    def _mutate(self, individual):
        individual[:] = self.codec.mutate(individual, random, self.space.evolution.mutation_rate)
        return (individual,)

    def individual(self, genome) -> list:
        """A DEAP individual of ``genome``, with its fitness when it has been scored."""
        ind = self.Individual(genome)
        evaluation = self.evaluations.get(self.codec.key(ind))
        if evaluation is not None:
            ind.fitness.values = evaluation.result.fitness(self.objectives)
        return ind

    # ---- ask / tell ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Nothing left to propose, and every proposed step folded in."""
        return self.generation > self.max_generations and not self._steps

    def ask(self, n: int | None = None) -> list[Candidate]:
        """Up to ``n`` new candidates to train (default: those of the next step that has any).
        Fewer when the scheme waits for pending results (a generation's barrier) or nothing is
        left to propose; steps whose candidates are all scored already are folded in on the way."""
        wanted = math.inf if n is None else n
        handed: list[Candidate] = []
        while len(handed) < wanted:
            if self._queue:
                handed.append(self._hand_out(next(iter(self._queue))))
            elif (
                self.generation > self.max_generations
                or (self._steps and not self.scheme.steady_state)
                or (n is None and handed)
            ):
                break
            else:
                self._propose()
        return handed

    def tell(self, key: str, result: CandidateResult) -> None:
        """Record the result of a pending candidate (journal, cache); fold in every step it
        completes. A key that is not pending (never asked, or told already) is refused."""
        if key not in self.pending:
            raise KeyError(f"tell({key!r}): not a pending candidate (never asked, or told already)")
        candidate = self.pending.pop(key)
        genome, generation = self._asked.pop(key)
        evaluation = Evaluation(
            generation, key, genome, candidate.spec, candidate.seed, result, fidelity=self.fidelity
        )
        self._record(evaluation)
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            append_evaluation(self.run_dir, evaluation)
        log.info(
            "  %-40s %-7s %7.3f dB  %5.1f s  (%d told)",
            key,
            result.status,
            result.psnr,
            result.train_seconds,
            len(self.evaluations),
        )
        self.scheme.observe(evaluation)
        for step in list(self._steps):
            step.waiting.discard(key)
            if not step.waiting:
                self._fold(step)

    def _propose(self) -> None:
        """The scheme's next step: known keys resolved, new ones queued; folded at once when it
        waits for nothing."""
        gen = self.generation
        with self._evolution_rng():
            if gen == 0:
                offspring = self.scheme.initial(self.toolbox)
            else:
                offspring = self.scheme.propose(self.toolbox)
        self.generation = gen + 1
        # a steady-state scheme's initial individuals join one by one, as each is scored
        for part in [[i] for i in offspring] if self.scheme.steady_state else [offspring]:
            self._open(_Step(gen, part))

    def _open(self, step: _Step) -> None:
        self._steps.append(step)
        for ind in step.offspring:
            key = self.codec.key(ind)
            if key in self.evaluations:
                continue
            step.waiting.add(key)
            if key not in self.pending and key not in self._queue:
                self._queue[key] = (tuple(ind), step.generation)
        if not step.waiting:
            self._fold(step)

    def _hand_out(self, key: str) -> Candidate:
        genome, generation = self._queue.pop(key)
        candidate = Candidate(
            key,
            self.codec.decode(list(genome)),
            self.space.budget,
            candidate_seed(self.seed, key),
        )
        self.pending[key], self._asked[key] = candidate, (genome, generation)
        return candidate

    def _fold(self, step: _Step) -> None:
        """Hand a scored step to the scheme and record it in the logbook."""
        for ind in step.offspring:
            ind.fitness.values = self.evaluations[self.codec.key(ind)].result.fitness(
                self.objectives
            )
        if step.generation == 0:
            self.scheme.start(step.offspring)
        else:
            self.scheme.replace(step.offspring)
        self._steps.remove(step)
        self._log(step.generation, step.offspring)

    def _record(self, e: Evaluation) -> None:
        """Keep a told evaluation and the logbook's tallies (no rescan per steady-state fold)."""
        self.evaluations[e.key] = e
        self._trained[e.generation] = self._trained.get(e.generation, 0) + 1
        self._best_seen = max(self._best_seen, e.result.psnr if e.result.ok else FAILED_PSNR)

    def _log(self, gen: int, offspring: list) -> None:
        """A logbook row; ``best``: of all told (generational: only one generation is open)."""
        results = [self.evaluations[self.codec.key(ind)].result for ind in offspring]
        ok = [r.psnr for r in results if r.ok]
        trained = self._trained.get(gen, 0)
        self.logbook.record(
            gen=gen,
            evals=trained,
            cached=len(offspring) - trained,
            failed=sum(r.status == "failed" for r in results),
            stopped=sum(r.status == "stopped" for r in results),
            best=self._best_seen,
            median=statistics.median(ok) if ok else FAILED_PSNR,
            elapsed=round(self.elapsed(), 1),
        )

    def elapsed(self) -> float:
        """Seconds this search has run, over every session."""
        return self.elapsed_before + time.perf_counter() - self._clock

    @contextmanager
    def _evolution_rng(self):
        """DEAP's operators draw from the global ``random``, and so do libraries in this process
        (Ray Tune, at times that vary from run to run). The evolution keeps its own state and
        lends it to ``random`` only while its operators run, so a resumed run draws the same."""
        outside = random.getstate()
        random.setstate(self.rng_state)
        try:
            yield
        finally:
            self.rng_state = random.getstate()
            random.setstate(outside)

    # ---- results -------------------------------------------------------------------------------
    def best(self) -> BestRecord:
        """The best evaluation (highest PSNR of the fully trained; ties by key) and, with several
        objectives, the Pareto set of the fully trained (one member per architecture). Its
        ``run`` is left for the report to fill in."""
        everything = sorted(self.evaluations.values(), key=lambda e: e.key)
        ok = [e for e in everything if e.result.ok] or everything
        top = max(ok, key=lambda e: e.result.psnr)
        pareto = None
        if len(self.objectives) > 1:
            front = tools.ParetoFront(similar=lambda a, b: self.codec.key(a) == self.codec.key(b))
            front.update([self.individual(e.genome) for e in ok if e.result.ok])
            pareto = tuple(
                ParetoMember(
                    self.codec.key(ind),
                    tuple(ind),
                    Metrics.of(self.evaluations[self.codec.key(ind)].result),
                )
                for ind in front
            )
        return BestRecord(
            top.key,
            top.genome,
            top.spec,
            Metrics.of(top.result),
            self.space,
            self.seed,
            pareto=pareto,
        )

    # ---- checkpoint (one pair: state_dict / load_state_dict) -------------------------------------
    def state_dict(self) -> dict:
        """Plain JSON: with the journal, everything a resumed search needs. Open steps keep their
        offspring; what they had handed out and not yet heard of is asked for again."""
        return {
            "seed": self.seed,
            "space": self.space.to_dict(),
            "generation": self.generation,
            "elapsed_seconds": self.elapsed(),
            "scheme": self.scheme.state_dict(),
            "random_state": _dump_random(self.rng_state),
            "logbook": [dict(entry) for entry in self.logbook],
            "open_steps": [
                {"generation": s.generation, "offspring": [list(ind) for ind in s.offspring]}
                for s in self._steps
            ],
        }

    def load_state_dict(self, state: dict, evaluations: Iterable[Evaluation] = ()) -> None:
        """Restore a checkpoint (and the journal's ``evaluations``); ValueError or
        CheckpointError when they do not belong to this search."""
        self.restore(evaluations)
        self.scheme.load_state_dict(state["scheme"], self.individual)
        for entry in state["logbook"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("gen"), int):
                raise ValueError(f"logbook entry without its generation: {entry!r}")
            self.logbook.record(**entry)
        self.generation = int(state["generation"])
        self.elapsed_before, self._clock = float(state["elapsed_seconds"]), time.perf_counter()
        self.rng_state = _load_random(state["random_state"])
        for step in state.get("open_steps", []):  # checkpoints of a generation boundary have none
            offspring = [self.Individual(self.codec.validate(g)) for g in step["offspring"]]
            self._open(_Step(int(step["generation"]), offspring))

    def restore(self, evaluations: Iterable[Evaluation]) -> None:
        """Take journalled evaluations as told (they will not be asked for again)."""
        for e in evaluations:  # a journal of another space, or edited by hand, is refused here
            if not self._fits(e):
                raise CheckpointError(
                    f"cannot resume {self.run_dir}: {JOURNAL} entry {e.key!r} does not fit the "
                    "run's space (another run's, or edited)"
                )
            self._record(e)
            self.scheme.observe(e)

    def _fits(self, evaluation: Evaluation) -> bool:
        try:
            return (
                self.codec.key(self.codec.validate(list(evaluation.genome))) == evaluation.key
                and evaluation.generation >= 0
            )
        except GenomeError:
            return False

    def save(self) -> None:
        """Write the checkpoint into the run folder."""
        if self.run_dir is None:
            raise ValueError("an engine without a run folder has no checkpoint to write")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_checkpoint(self.run_dir, self.state_dict())

    @classmethod
    def resume(cls, run_dir: Path, repair: bool = True) -> "SearchEngine":
        """The search in ``run_dir`` as it was when it stopped; CheckpointError if it cannot be.
        ``repair=False`` (a look only, e.g. ``--check``) leaves a torn journal line as it is."""
        state = read_checkpoint(run_dir)
        evaluations = read_journal(run_dir, repair=repair)
        try:
            engine = cls(
                parse_stored_space(state["space"], source=f"{run_dir}: checkpoint"),
                int(state["seed"]),
                Path(run_dir),
            )
            engine.load_state_dict(state, evaluations)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as err:
            if isinstance(err, SpaceError):
                raise CheckpointError(f"cannot resume {run_dir}: {err}") from None
            raise CheckpointError(
                f"cannot resume {run_dir}: checkpoint is damaged ({type(err).__name__}: {err})"
            ) from None
        return engine


def _dump_random(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _load_random(data) -> tuple:
    state = data[0], tuple(data[1]), data[2]
    random.Random().setstate(state)  # a damaged state fails here, as a damaged checkpoint
    return state
