"""The evolutionary search: DEAP's toolbox and a selection scheme own the loop, an evaluator
(Ray Tune, or in-process) scores each generation's new candidates.

    for each generation:
        offspring = scheme.initial(toolbox) if generation 0 else scheme.propose(toolbox)
        score the offspring not yet in the cache (each result is journalled as it arrives)
        scheme.replace(offspring); logbook; checkpoint

A resumed run restores the checkpoint (scheme, RNG, logbook) and the journal (every finished
evaluation), so it re-proposes the same offspring and trains only what had not finished. On CPU
it ends with the same ``best.json`` as an uninterrupted run.
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from deap import base, creator, tools

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
from .schemes import make_scheme
from .space import SearchSpace, SpaceError, parse_space

__all__ = ["Evolution", "CheckpointError"]

log = logging.getLogger("nas.search")
_SIGN = {"psnr": 1.0, "gflops": -1.0, "params": -1.0}


def _deap_classes(objectives: list[str]):
    """DEAP fitness and individual classes for these objectives (created once per signature)."""
    suffix = "_".join(objectives)
    fitness, individual = f"Fitness_{suffix}", f"Genome_{suffix}"
    if not hasattr(creator, fitness):
        creator.create(fitness, base.Fitness, weights=tuple(_SIGN[o] for o in objectives))
        creator.create(individual, list, fitness=getattr(creator, fitness))
    return getattr(creator, individual)


class Evolution:
    """One search run in ``run_dir`` over ``space``; ``evaluator.evaluate(candidates, generation,
    on_result)`` scores candidates and calls ``on_result(key, result)`` as each one finishes."""

    def __init__(self, space: SearchSpace, run_dir: Path, evaluator, seed: int) -> None:
        self.space, self.run_dir, self.evaluator, self.seed = space, Path(run_dir), evaluator, seed
        self.codec = GenomeCodec(space)
        self.objectives = space.objectives
        self.Individual = _deap_classes(self.objectives)
        self.scheme = make_scheme(space.evolution)
        self.toolbox = base.Toolbox()
        self.toolbox.register(
            "individual", lambda: self.Individual(self.codec.random_genome(random))
        )
        self.toolbox.register("mate", self._mate)
        self.toolbox.register("mutate", self._mutate)
        self.cache: dict[str, Evaluation] = {}
        self.logbook = tools.Logbook()
        self.logbook.header = [
            "gen",
            "evals",
            "cached",
            "failed",
            "stopped",
            "best",
            "median",
            "elapsed",
        ]
        self.generation, self.elapsed_before = 0, 0.0
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
        evaluation = self.cache.get(self.codec.key(ind))
        if evaluation is not None:
            ind.fitness.values = evaluation.result.fitness(self.objectives)
        return ind

    # ---- evaluation ----------------------------------------------------------------------------
    def _record(
        self, generation: int, genomes: dict, candidates: dict, key: str, result: CandidateResult
    ) -> None:
        if key in self.cache:
            return
        candidate = candidates[key]
        evaluation = Evaluation(
            generation, key, genomes[key], candidate.spec, candidate.seed, result
        )
        self.cache[key] = evaluation
        append_evaluation(self.run_dir, evaluation)
        log.info(
            "  %-40s %-7s %7.3f dB  %5.1f s  (%d trained in this run folder)",
            key,
            result.status,
            result.psnr,
            result.train_seconds,
            len(self.cache),
        )

    def _evaluate(self, individuals: list, generation: int) -> None:
        """Score ``individuals``: cached keys are reused, the rest go to the evaluator once each."""
        genomes, candidates = {}, {}
        for ind in individuals:
            key = self.codec.key(ind)
            if key not in self.cache and key not in candidates:
                genomes[key] = tuple(ind)
                candidates[key] = Candidate(
                    key, self.codec.decode(ind), self.space.budget, candidate_seed(self.seed, key)
                )
        if candidates:
            record = lambda key, result: self._record(generation, genomes, candidates, key, result)
            results = self.evaluator.evaluate(list(candidates.values()), generation, record)
            for key in candidates:  # anything the evaluator did not report as it went
                record(key, results.get(key) or CandidateResult.failed("no result reported"))
        for ind in individuals:
            ind.fitness.values = self.cache[self.codec.key(ind)].result.fitness(self.objectives)

    # ---- the loop ------------------------------------------------------------------------------
    def run(self, progress: Callable | None = None, time_budget_s: float | None = None) -> bool:
        """Run (or continue) until the configured number of generations is done, or until a
        generation ends with ``time_budget_s`` seconds (of this call) spent. Returns whether all
        generations are done; a run stopped by its time budget continues with :meth:`resume`."""
        started = time.perf_counter()
        total = self.space.evolution.generations
        if self.generation == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.save(self.elapsed_before)  # a run killed in generation 0 can be resumed too
        while self.generation <= total:
            gen = self.generation
            with self._evolution_rng():
                offspring = (
                    self.scheme.initial(self.toolbox)
                    if gen == 0
                    else self.scheme.propose(self.toolbox)
                )
            self._evaluate(offspring, gen)
            if gen == 0:
                self.scheme.start(offspring)
            else:
                self.scheme.replace(offspring)
            elapsed = self.elapsed_before + time.perf_counter() - started
            self._log(gen, offspring, elapsed)
            self.generation = gen + 1
            self.save(elapsed)
            if progress:
                progress(self.logbook[-1], eta=elapsed / (gen + 1) * (total - gen))
            if (
                time_budget_s is not None
                and time.perf_counter() - started >= time_budget_s
                and gen < total
            ):
                return False
        return True

    def _log(self, gen: int, offspring: list, elapsed: float) -> None:
        results = [self.cache[self.codec.key(ind)].result for ind in offspring]
        ok = [r.psnr for r in results if r.ok]
        trained = sum(1 for e in self.cache.values() if e.generation == gen)
        seen = [
            e.result.psnr if e.result.ok else FAILED_PSNR
            for e in self.cache.values()
            if e.generation <= gen
        ]
        self.logbook.record(
            gen=gen,
            evals=trained,
            cached=len(offspring) - trained,
            failed=sum(r.status == "failed" for r in results),
            stopped=sum(r.status == "stopped" for r in results),
            best=max(seen),
            median=statistics.median(ok) if ok else FAILED_PSNR,
            elapsed=round(elapsed, 1),
        )

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
    def best(self) -> dict:
        """The best evaluation (highest PSNR; ties by key) and, with several objectives, the
        Pareto set of all fully trained evaluations (one entry per architecture)."""
        everything = sorted(self.cache.values(), key=lambda e: e.key)
        ok = [e for e in everything if e.result.ok] or everything
        top = max(ok, key=lambda e: e.result.psnr)
        best = {
            "key": top.key,
            "genome": list(top.genome),
            "spec": top.spec.to_dict(),
            "metrics": top.result.metrics(),
        }
        if len(self.objectives) > 1:
            front = tools.ParetoFront(similar=lambda a, b: self.codec.key(a) == self.codec.key(b))
            front.update([self.individual(e.genome) for e in ok if e.result.ok])
            best["pareto"] = [
                {
                    "key": self.codec.key(ind),
                    "genome": list(ind),
                    "metrics": self.cache[self.codec.key(ind)].result.metrics(),
                }
                for ind in front
            ]
        return best

    # ---- checkpoint (one pair: state_dict / load_state_dict) -------------------------------------
    def state_dict(self, elapsed: float) -> dict:
        return {
            "seed": self.seed,
            "space": self.space.to_dict(),
            "generation": self.generation,
            "elapsed_seconds": elapsed,
            "scheme": self.scheme.state_dict(),
            "random_state": _dump_random(self.rng_state),
            "logbook": [dict(entry) for entry in self.logbook],
        }

    def load_state_dict(self, state: dict, evaluations: list[Evaluation]) -> None:
        for e in evaluations:  # a journal of another space, or edited by hand, is refused here
            if not self._fits(e):
                raise CheckpointError(
                    f"cannot resume {self.run_dir}: {JOURNAL} entry {e.key!r} does not fit the "
                    "run's space (another run's, or edited)"
                )
        self.cache = {e.key: e for e in evaluations}
        self.scheme.load_state_dict(state["scheme"], self.individual)
        for entry in state["logbook"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("gen"), int):
                raise ValueError(f"logbook entry without its generation: {entry!r}")
            self.logbook.record(**entry)
        self.generation, self.elapsed_before = (
            int(state["generation"]),
            float(state["elapsed_seconds"]),
        )
        self.rng_state = _load_random(state["random_state"])

    def _fits(self, evaluation: Evaluation) -> bool:
        try:
            return (
                self.codec.key(self.codec.validate(list(evaluation.genome))) == evaluation.key
                and evaluation.generation >= 0
            )
        except GenomeError:
            return False

    def save(self, elapsed: float) -> None:
        write_checkpoint(self.run_dir, self.state_dict(elapsed))

    @classmethod
    def resume(cls, run_dir: Path, evaluator, repair: bool = True) -> "Evolution":
        """The run in ``run_dir`` as it was when it stopped; CheckpointError if it cannot be.
        ``repair=False`` (a look only, e.g. ``--check``) leaves a torn journal line as it is."""
        state = read_checkpoint(run_dir)
        evaluations = read_journal(run_dir, repair=repair)
        try:
            run = cls(
                parse_space(state["space"], source=f"{run_dir}: checkpoint"),
                Path(run_dir),
                evaluator,
                int(state["seed"]),
            )
            run.load_state_dict(state, evaluations)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as err:
            if isinstance(err, SpaceError):
                raise CheckpointError(f"cannot resume {run_dir}: {err}") from None
            raise CheckpointError(
                f"cannot resume {run_dir}: checkpoint is damaged ({type(err).__name__}: {err})"
            ) from None
        return run


def _dump_random(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _load_random(data) -> tuple:
    state = data[0], tuple(data[1]), data[2]
    random.Random().setstate(state)  # a damaged state fails here, as a damaged checkpoint
    return state
