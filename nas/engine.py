"""The evolutionary search: DEAP owns the loop, an evaluator (Ray Tune) scores each generation.

State between generations is plain data (``checkpoint.json``: population, every evaluation,
the RNG state, the logbook), written atomically after each generation; a resumed run continues
from the last one and, on CPU, ends with the same ``best.json`` as an uninterrupted run.
"""
from __future__ import annotations

import json
import logging
import random
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from deap import base, creator, tools

from .arch import atomic_write_text
from .fitness import FAILED_PSNR, candidate_seed
from .genome import GenomeCodec
from .space import SearchSpace, parse_space

__all__ = ["Evolution", "CHECKPOINT", "CheckpointError"]

log = logging.getLogger("nas.search")
CHECKPOINT = "checkpoint.json"
_SIGN = {"psnr": 1.0, "gflops": -1.0, "params": -1.0}
_WORST = {"psnr": FAILED_PSNR, "gflops": 1e12, "params": 1e15}


class CheckpointError(ValueError):
    """A run folder cannot be resumed."""


def _deap_classes(objectives: list[str]):
    """DEAP fitness and individual classes for these objectives (created once per signature)."""
    suffix = "_".join(objectives)
    fitness, individual = f"Fitness_{suffix}", f"Genome_{suffix}"
    if not hasattr(creator, fitness):
        creator.create(fitness, base.Fitness, weights=tuple(_SIGN[o] for o in objectives))
        creator.create(individual, list, fitness=getattr(creator, fitness))
    return getattr(creator, individual)


class Evolution:
    """One search run in ``run_dir`` over ``space`` with ``evaluator.evaluate(requests, gen)``."""

    def __init__(self, space: SearchSpace, run_dir: Path, evaluator, seed: int) -> None:
        self.space, self.run_dir, self.evaluator, self.seed = space, Path(run_dir), evaluator, seed
        self.codec = GenomeCodec(space)
        self.objectives = space.objectives
        self.Individual = _deap_classes(self.objectives)
        self.settings = space.evolution
        self.toolbox = base.Toolbox()
        self.toolbox.register("mate", self._mate)
        self.toolbox.register("mutate", self._mutate)
        if len(self.objectives) > 1:
            self.toolbox.register("select", tools.selNSGA2)
            self.hall = tools.ParetoFront()
        else:
            self.toolbox.register("select", tools.selTournament, tournsize=self.settings.tournament_size)
            self.hall = tools.HallOfFame(10)
        self.cache: dict[str, dict] = {}
        self.population: list = []
        self.logbook = tools.Logbook()
        self.logbook.header = ["gen", "evals", "cached", "failed", "best", "median", "elapsed"]
        self.generation, self.elapsed_before = 0, 0.0
        self.rng_state = random.Random(seed).getstate()

    # ---- variation (DEAP operators wrapping the codec) ------------------------------------------
    def _mate(self, a, b):
        child_a, child_b = self.codec.crossover(a, b, random)
        a[:], b[:] = child_a, child_b
        return a, b

    def _mutate(self, individual):
        individual[:] = self.codec.mutate(individual, random, self.settings.mutation_rate)
        return (individual,)

    def _offspring(self) -> list:
        s = self.settings
        if s.selection == "aging":   # regularized evolution (Real et al. 2019): mutate tournament winners
            parents = [max(random.sample(self.population, min(s.tournament_size, len(self.population))),
                           key=lambda ind: ind.fitness) for _ in range(s.population)]
            return [self.toolbox.mutate(self.toolbox.clone(p))[0] for p in parents]
        if s.selection == "nsga2":
            # selNSGA2 over the whole population keeps everyone and assigns the crowding distances
            # that selTournamentDCD compares (the initial and a resumed population have none).
            self.population = tools.selNSGA2(self.population, len(self.population))
            chosen = (tools.selTournamentDCD(self.population, len(self.population)) if len(self.population) % 4 == 0
                      else tools.selRandom(self.population, len(self.population)))
        else:
            chosen = self.toolbox.select(self.population, len(self.population))
        offspring = [self.toolbox.clone(ind) for ind in chosen]
        for a, b in zip(offspring[::2], offspring[1::2]):
            if random.random() < s.crossover_rate:
                self.toolbox.mate(a, b)
        for ind in offspring:
            self.toolbox.mutate(ind)
        return offspring

    def _replace(self, offspring: list) -> list:
        s = self.settings
        if s.selection == "nsga2":
            return tools.selNSGA2(self.population + offspring, s.population)
        if s.selection == "aging":
            return (self.population + offspring)[-s.population:]   # the oldest die
        elite = tools.selBest(self.population, min(s.elitism, len(offspring)))
        survivors = sorted(offspring, key=lambda ind: ind.fitness, reverse=True)[:len(offspring) - len(elite)]
        return elite + survivors

    # ---- evaluation ----------------------------------------------------------------------------
    def _fitness(self, record: dict) -> tuple[float, ...]:
        if record["status"] != "ok":
            return tuple(_WORST[o] for o in self.objectives)
        return tuple(float(record[o]) for o in self.objectives)

    def _evaluate(self, individuals: list, generation: int) -> tuple[int, int]:
        """Score ``individuals``: cached keys are reused, the rest go to the evaluator once each."""
        budget = self.space.budget.model_dump()
        requests, genomes = {}, {}
        for ind in individuals:
            key = self.codec.key(ind)
            if key not in self.cache and key not in requests:
                genomes[key] = list(ind)
                requests[key] = {"key": key, "spec": self.codec.decode(ind).to_dict(), "budget": budget,
                                 "seed": candidate_seed(self.seed, key)}
        results = self.evaluator.evaluate(list(requests.values()), generation) if requests else {}
        for key, request in requests.items():
            self.cache[key] = {"generation": generation, "key": key, "genome": genomes[key], "spec": request["spec"],
                               "seed": request["seed"], **results[key]}
        for ind in individuals:
            ind.fitness.values = self._fitness(self.cache[self.codec.key(ind)])
        self.hall.update(individuals)
        return len(requests), len(individuals) - len(requests)

    # ---- the loop ------------------------------------------------------------------------------
    def run(self, progress=None) -> None:
        """Run (or continue) until the configured number of generations is done."""
        started = time.perf_counter()
        total = self.settings.generations
        while self.generation <= total:
            gen = self.generation
            with self._evolution_rng():
                if gen == 0:
                    offspring = [self.Individual(self.codec.random_genome(random))
                                 for _ in range(self.settings.population)]
                else:
                    offspring = self._offspring()
            evals, cached = self._evaluate(offspring, gen)
            self.population = offspring if gen == 0 else self._replace(offspring)
            elapsed = self.elapsed_before + time.perf_counter() - started
            scores = [self.cache[self.codec.key(i)]["psnr"] for i in offspring]
            ok = [p for p in scores if p != FAILED_PSNR]
            self.logbook.record(gen=gen, evals=evals, cached=cached, failed=len(scores) - len(ok),
                                best=max(c["psnr"] for c in self.cache.values()),
                                median=statistics.median(ok) if ok else FAILED_PSNR, elapsed=round(elapsed, 1))
            self.generation = gen + 1
            self._save(elapsed)
            if progress:
                progress(self.logbook[-1], eta=elapsed / (gen + 1) * (total - gen))

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
        """The best evaluation (highest PSNR, earliest on ties) and, with several objectives, the
        Pareto set of all evaluations."""
        ok = [r for r in self.cache.values() if r["status"] == "ok"] or list(self.cache.values())
        top = max(ok, key=lambda r: r["psnr"])
        return {"key": top["key"], "genome": top["genome"], "spec": top["spec"], "metrics": _metrics(top),
                "pareto": [{"key": self.codec.key(ind), "genome": list(ind),
                            "metrics": _metrics(self.cache[self.codec.key(ind)])} for ind in self.hall]
                if len(self.objectives) > 1 else None}

    # ---- checkpoint ----------------------------------------------------------------------------
    def _save(self, elapsed: float) -> None:
        state = {"version": 1, "seed": self.seed, "space": self.space.to_dict(), "generation": self.generation,
                 "elapsed_seconds": elapsed, "population": [list(i) for i in self.population],
                 "random_state": _dump_random(self.rng_state), "evaluations": list(self.cache.values()),
                 "logbook": [dict(entry) for entry in self.logbook]}
        atomic_write_text(self.run_dir / CHECKPOINT, json.dumps(state, indent=1))

    @classmethod
    def resume(cls, run_dir: Path, evaluator) -> "Evolution":
        path = Path(run_dir) / CHECKPOINT
        if not path.is_file():
            raise CheckpointError(f"cannot resume {run_dir}: no {CHECKPOINT} (did the first generation finish?)")
        try:
            state = json.loads(path.read_text())
            space = parse_space(state["space"], source=str(path))
            run = cls(space, Path(run_dir), evaluator, state["seed"])
            for record in state["evaluations"]:
                run.cache[record["key"]] = record
            evaluated = [run.Individual(r["genome"]) for r in state["evaluations"]]
            for ind in evaluated:
                ind.fitness.values = run._fitness(run.cache[run.codec.key(ind)])
            for gen in sorted({r["generation"] for r in state["evaluations"]}):   # same order as the run
                run.hall.update([i for i in evaluated if run.cache[run.codec.key(i)]["generation"] == gen])
            run.population = [run.Individual(g) for g in state["population"]]
            for ind in run.population:
                ind.fitness.values = run._fitness(run.cache[run.codec.key(ind)])
            for entry in state["logbook"]:
                run.logbook.record(**entry)
            run.generation, run.elapsed_before = state["generation"], state["elapsed_seconds"]
            run.rng_state = _load_random(state["random_state"])
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
            raise CheckpointError(f"cannot resume {run_dir}: {path.name} is damaged ({err})") from None
        return run


def _metrics(record: dict) -> dict:
    return {k: record[k] for k in ("psnr", "ssim", "params", "gflops", "status")}


def _dump_random(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _load_random(data) -> tuple:
    return data[0], tuple(data[1]), data[2]
