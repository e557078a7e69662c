"""Selection schemes: one class each, owning its population, its selection and its replacement.

Every scheme proposes ``settings.children()`` candidates per step from the DEAP ``toolbox``
(``individual``, ``genome``, ``clone``, ``mate``, ``mutate``; ``key`` of an individual and
``pending()``, the keys proposed and not yet scored), and once a step's candidates are
all scored the engine (:class:`~nas.search.engine.SearchEngine`) hands them back to fold into the
population: ``start`` for the initial step, ``replace`` for every later one. A step is a
generation: the engine proposes the next only when the last is folded in. A scheme with
``steady_state = True`` is asked for a new step while earlier ones are still training, and each
step is folded in as soon as its own candidates are scored (one child per step folds per result),
so replacement can be per generation, per batch or per result. ``observe`` sees every result as
it is told (a model-guided scheme's training data). Its ``state_dict`` is its part of the
checkpoint: the population in the scheme's own order (aging keeps it oldest first).

With ``evolution.asynchronous`` random, tournament and aging are steady-state: every step is one
child, bred the moment a slot is free from the results in so far, and folded in alone when it is
scored; the initial individuals join one by one as they are scored. While fewer than
``tournament_size`` results are in, a child is a random genome. Aging keeps the newest
``population`` results (Real et al.'s asynchronous regularized evolution); the steady-state
tournament is a (population + 1) GA: the child joins, the worst leaves. Both modes train as many
candidates: a steady-state run has ``generations x children()`` single-child steps.

============  ==========================================================  ==============
scheme        what it does                                                objectives
============  ==========================================================  ==============
random        samples fresh genomes every generation (the baseline)       any
tournament    GA: tournament selection, crossover, mutation, elitism      psnr only
aging         regularized evolution (Real et al. 2019): a few mutated     psnr only
              tournament winners per cycle, the oldest as many die
nsga2         NSGA-II (Deb et al. 2002): dominance-and-crowding           two or more
              tournament, non-dominated sorting for survival
guided        model-guided evolution (nas.search.guided): a model fitted  any
              on every result ranks a large pool of children
============  ==========================================================  ==============
"""

from __future__ import annotations

import random
from typing import Callable

from deap import tools

from .space import EvolutionSettings

__all__ = ["SCHEMES", "Scheme", "GivenGenomes", "make_scheme"]


class Scheme:
    """Base: the population and its (de)serialisation; subclasses select and replace."""

    name = ""
    steady_state = False  # True: propose while earlier steps train; fold each step as it completes
    has_steady_state = False  # True: ``evolution.asynchronous`` turns steady_state on

    def __init__(self, settings: EvolutionSettings) -> None:
        self.settings = settings
        self.population: list = []
        if settings.asynchronous and self.has_steady_state:
            self.steady_state = True

    def step_size(self) -> int:
        """Candidates per step after the initial one: a generation, or a steady state's child."""
        return 1 if self.steady_state else self.settings.children()

    def steps(self) -> int:
        """Steps after the initial one; both modes train as many candidates in all."""
        return self.settings.generations * self.settings.children() // self.step_size()

    def observe(self, evaluation) -> None:
        """Every told result (an :class:`~nas.search.result.Evaluation`), as it arrives."""

    def initial(self, toolbox) -> list:
        """Generation 0: ``population`` random individuals."""
        return [toolbox.individual() for _ in range(self.settings.population)]

    def propose(self, toolbox) -> list:
        """The next step's candidates (unscored)."""
        raise NotImplementedError

    def replace(self, offspring: list) -> None:
        """Fold a step's scored ``offspring`` into the population."""
        raise NotImplementedError

    def start(self, offspring: list) -> None:
        """The scored initial individuals become the population (in steady state they join it
        one by one, as each is scored)."""
        if self.steady_state:
            self.replace(offspring)
        else:
            self.population = list(offspring)

    def _breeding(self) -> bool:
        """In steady state: enough results in to select parents from (else a random child)."""
        return len(self.population) >= min(self.settings.tournament_size, self.settings.population)

    def _newest(self, offspring: list) -> list:
        """The population with ``offspring`` appended, the oldest beyond ``population`` gone."""
        return (self.population + list(offspring))[-self.settings.population :]

    def state_dict(self) -> dict:
        return {"scheme": self.name, "population": [list(ind) for ind in self.population]}

    def load_state_dict(self, state: dict, individual: Callable[[list], object]) -> None:
        """Restore the population; ``individual(genome)`` rebuilds one with its fitness."""
        if not isinstance(state, dict) or state.get("scheme") != self.name:
            found = state.get("scheme") if isinstance(state, dict) else state
            raise ValueError(f"checkpoint was written by scheme {found!r}, not {self.name!r}")
        self.population = [individual(genome) for genome in state["population"]]


class RandomSampling(Scheme):
    """Random search: every generation is ``children()`` fresh genomes. It selects nothing; its
    population is the latest generation."""

    name = "random"
    has_steady_state = True

    def propose(self, toolbox) -> list:
        return [toolbox.individual() for _ in range(self.step_size())]

    def replace(self, offspring: list) -> None:
        self.population = self._newest(offspring) if self.steady_state else list(offspring)


class Tournament(Scheme):
    """Generational GA: tournament-selected parents, pairwise crossover, mutation; the
    ``elitism`` best of the old population survive beside the best offspring."""

    name = "tournament"
    has_steady_state = True

    def propose(self, toolbox) -> list:
        s = self.settings
        if self.steady_state:  # two tournament winners, crossed and mutated: the first child
            if not self._breeding():
                return [toolbox.individual()]
            parents = tools.selTournament(self.population, 2, tournsize=s.tournament_size)
            return _vary(toolbox, parents, s.crossover_rate)[:1]
        parents = tools.selTournament(self.population, s.children(), tournsize=s.tournament_size)
        return _vary(toolbox, parents, s.crossover_rate)

    def replace(self, offspring: list) -> None:
        s = self.settings
        if self.steady_state:  # (population + 1): the child joins, the worst leaves
            self.population = tools.selBest(self.population + list(offspring), s.population)
            return
        elite = tools.selBest(self.population, s.elitism)
        chosen = tools.selBest(offspring, min(s.population - len(elite), len(offspring)))
        # With fewer offspring than places, the next best of the old population keep theirs.
        rest = [
            ind
            for ind in tools.selBest(self.population, s.population)
            if not any(ind is e for e in elite)
        ]
        self.population = elite + chosen + rest[: s.population - len(elite) - len(chosen)]


class Aging(Scheme):
    """Regularized evolution: each cycle mutates ``children()`` tournament winners (sampled
    ``tournament_size`` at a time) and removes as many of the oldest, so every individual dies of
    age however good it is. The population list is ordered oldest first."""

    name = "aging"
    has_steady_state = True

    def propose(self, toolbox) -> list:
        s = self.settings
        if self.steady_state and not self._breeding():
            return [toolbox.individual()]
        size = min(s.tournament_size, len(self.population))
        parents = [
            max(random.sample(self.population, size), key=lambda ind: ind.fitness)
            for _ in range(self.step_size())
        ]
        return [toolbox.mutate(toolbox.clone(p))[0] for p in parents]

    def replace(self, offspring: list) -> None:
        self.population = self._newest(offspring)


class NSGA2(Scheme):
    """NSGA-II: binary tournaments on dominance then crowding distance, crossover and mutation;
    survivors by non-dominated sorting of parents and offspring together."""

    name = "nsga2"

    def propose(self, toolbox) -> list:
        s = self.settings
        self.population = tools.selNSGA2(
            self.population, len(self.population)
        )  # assigns crowding distances
        return _vary(toolbox, _dcd_parents(self.population, s.children()), s.crossover_rate)

    def replace(self, offspring: list) -> None:
        self.population = tools.selNSGA2(self.population + offspring, self.settings.population)


class GivenGenomes(Scheme):
    """No selection: the initial step is ``genomes`` as given, and nothing follows (a study that
    scores a fixed sample, e.g. at several budgets). Not selectable by a space's ``selection``."""

    name = "given"

    def __init__(self, settings: EvolutionSettings, genomes: list) -> None:
        super().__init__(settings)
        self.genomes = [list(g) for g in genomes]

    def initial(self, toolbox) -> list:
        return [toolbox.genome(g) for g in self.genomes]

    def propose(self, toolbox) -> list:
        return []

    def replace(self, offspring: list) -> None:
        pass


def _dcd_parents(population: list, k: int) -> list:
    """``k`` parents by DEAP's dominance-and-crowding tournaments. selTournamentDCD returns a
    multiple of 4 and wants at most the population, so draw rounds of the largest multiple of 4
    that fits and keep the first ``k``; populations under 4 draw at random."""
    usable = len(population) - len(population) % 4
    if usable == 0:
        return tools.selRandom(population, k)
    chosen = []
    while len(chosen) < k:
        chosen += tools.selTournamentDCD(population, usable)
    return chosen[:k]


def _vary(toolbox, parents: list, crossover_rate: float) -> list:
    """Clone the parents, cross consecutive pairs with probability ``crossover_rate``; mutate."""
    offspring = [toolbox.clone(ind) for ind in parents]
    for a, b in zip(offspring[::2], offspring[1::2]):
        if random.random() < crossover_rate:
            toolbox.mate(a, b)
    return [toolbox.mutate(ind)[0] for ind in offspring]


from .guided import Guided  # noqa: E402  (it builds on Scheme and _vary above)

SCHEMES: dict[str, type[Scheme]] = {
    cls.name: cls for cls in (RandomSampling, Tournament, Aging, NSGA2, Guided)
}


def make_scheme(settings: EvolutionSettings) -> Scheme:
    """The scheme named by ``settings.selection`` (the one place a scheme is chosen)."""
    return SCHEMES[settings.selection](settings)
