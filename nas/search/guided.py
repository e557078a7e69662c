"""Model-guided evolution (predictor-guided, as in NPENAS or BANANAS): DEAP's variation proposes,
a model fitted on everything told so far chooses what to train.

Each step, tournament-selected parents of the population (the best ``population`` scored so
far) are crossed and mutated into a pool of ``guided_pool`` children never scored nor pending,
a few fresh random genomes among them. A regressor with an uncertainty estimate (``guided_model``:
scikit-learn's Gaussian process on genome features, one kernel over them all or a sum of one per
part of the genome (``kernels.py``), or an extra-trees ensemble) is fitted on
every told result, and the step's ``children()`` candidates are picked from the pool one at a
time by the acquisition function (``acquisition``: expected improvement, an upper confidence
bound, or Thompson sampling). Candidates still pending, and those picked before in the step,
enter the fit at the model's own prediction (kriging believer), so parallel and steady-state
runs spread their picks. With several objectives each step draws a random weight and
scalarizes them (ParEGO's augmented Chebyshev). The pool comes from the engine's operators, which
repair every child into the space's constraints.

The model holds no state of its own: it is refitted from the told history (in key order), and
every random draw comes from the engine's RNG, so a resumed run proposes what an uninterrupted
one would.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
from deap import tools

from models import BLOCKS, GROUP_NAMES

from .kernels import gp_kernel
from .schemes import Scheme, _vary

__all__ = ["Guided", "genome_features", "genome_feature_parts"]

_SIGN = {"psnr": 1.0, "gflops": -1.0, "params": -1.0}
_RANDOM_SHARE = 0.1  # of the pool: fresh genomes, so the model can also look away from parents
_TRIES = 4  # pool attempts per wanted child before settling for fewer (a small or spent space)
_UCB_BETA = 2.0
_HYPER_SUBSET = 128  # told results the GP's hyperparameters are fitted on; all enter its fit


def genome_features(genome) -> list[float]:
    """Per group slot its block count and block type (one-hot over the block registry, zero when
    the slot is empty), the total count, then each level's width index."""
    groups = len(GROUP_NAMES)
    row, total = [], 0
    for i in range(groups):
        block, count = genome[2 * i], genome[2 * i + 1]
        total += count
        row += [float(count)] + [float(count > 0 and block == b) for b in range(len(BLOCKS))]
    return row + [float(total)] + [float(w) for w in genome[2 * groups :]]


def genome_feature_parts(levels: int) -> list[tuple[int, ...]]:
    """The columns of :func:`genome_features` that describe one part of the genome each: a
    group slot's count and block type, then the widths of the ``levels`` levels (the total count
    is left to the linear term)."""
    per_group = 1 + len(BLOCKS)
    groups = len(GROUP_NAMES)
    parts = [tuple(range(per_group * i, per_group * (i + 1))) for i in range(groups)]
    first_width = per_group * groups + 1
    return parts + [tuple(range(first_width, first_width + levels))]


def _objectives(individual) -> list[str]:
    """The run's objectives, as the engine named its DEAP individual class (``Genome_psnr_...``)."""
    names = type(individual).__name__.removeprefix("Genome_").split("_")
    return names if names and all(n in _SIGN for n in names) else ["psnr"]


class Guided(Scheme):
    """Predictor-guided evolution; see the module docstring."""

    name = "guided"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        # the space's asynchronous mode: propose while earlier steps train
        self.steady_state = bool(getattr(settings, "asynchronous", False))
        self.told: dict[str, tuple[tuple[int, ...], object]] = {}  # key -> (genome, result)
        self.proposed: dict[str, tuple[int, ...]] = {}  # key -> genome, of every proposal

    # ---- data ------------------------------------------------------------------------------
    def observe(self, evaluation) -> None:
        self.told[evaluation.key] = (tuple(evaluation.genome), evaluation.result)

    def initial(self, toolbox) -> list:
        return self._remember(toolbox, super().initial(toolbox))

    def _remember(self, toolbox, individuals: list) -> list:
        for ind in individuals:
            self.proposed.setdefault(toolbox.key(ind), tuple(ind))
        return individuals

    def start(self, offspring: list) -> None:
        self.population = tools.selBest(list(offspring), self.settings.population)

    def replace(self, offspring: list) -> None:
        self.population = tools.selBest(self.population + offspring, self.settings.population)

    # ---- proposal --------------------------------------------------------------------------
    def propose(self, toolbox) -> list:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small matrices: BLAS threads only contend
            return self._propose(toolbox)

    def _propose(self, toolbox) -> list:
        wanted = self.settings.children()
        pool = self._pool(toolbox, max(self.settings.guided_pool, wanted))
        if len(pool) <= wanted or len(self.told) < 2:
            return self._remember(toolbox, pool[:wanted])
        x_told, y_told = self._training_data(_objectives(pool[0]))
        x_pool = np.array([genome_features(ind) for ind in pool])
        pending = toolbox.pending()
        believed_x = [genome_features(g) for k, g in sorted(self.proposed.items()) if k in pending]
        parts = genome_feature_parts(len(pool[0]) - 2 * len(GROUP_NAMES))
        model = self._model(parts)
        model.fit(x_told, y_told)
        believed_y = list(model.predict(np.array(believed_x))[0]) if believed_x else []
        chosen: list[int] = []
        for _ in range(wanted):
            if believed_x:
                model.refit(
                    np.vstack([x_told, np.array(believed_x)]),
                    np.concatenate([y_told, np.array(believed_y)]),
                )
            score = self._acquire(model, x_pool, y_told.max())
            score[chosen] = -np.inf
            pick = int(np.argmax(score))
            chosen.append(pick)
            believed_x.append(list(x_pool[pick]))
            believed_y.append(float(model.predict(x_pool[pick : pick + 1])[0][0]))
        return self._remember(toolbox, [pool[i] for i in chosen])

    def _model(self, parts: list[tuple[int, ...]]) -> "_Model":
        """The step's model, unfitted (a subclass may give it fixed hyperparameters)."""
        return _Model(self.settings.guided_model, random.getrandbits(32), parts)

    def _pool(self, toolbox, size: int) -> list:
        """Up to ``size`` distinct children never scored nor pending: most by variation of
        tournament-selected parents, a share fresh."""
        taken = set(self.told) | set(toolbox.pending())
        pool, keys = [], set()
        fresh = int(size * _RANDOM_SHARE)

        def add(individuals) -> None:
            for ind in individuals:
                key = toolbox.key(ind)
                if key not in taken and key not in keys and len(pool) < size:
                    keys.add(key)
                    pool.append(ind)

        # before the initial population is folded in (steady state) there are no parents yet
        add(toolbox.individual() for _ in range(fresh if self.population else _TRIES * size))
        s = self.settings
        for _ in range(_TRIES * size // max(1, s.children())):
            if len(pool) >= size or not self.population:
                break
            size_t = min(s.tournament_size, len(self.population))
            parents = tools.selTournament(self.population, s.children(), tournsize=size_t)
            add(_vary(toolbox, parents, s.crossover_rate))
        return pool

    # ---- checkpoint -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The population and the proposals not yet told (the engine knows pending candidates by
        key; the kriging believer needs their genomes). The model is refitted from the journal."""
        state = super().state_dict()
        state["proposed"] = {
            k: list(g) for k, g in sorted(self.proposed.items()) if k not in self.told
        }
        return state

    def load_state_dict(self, state: dict, individual) -> None:
        super().load_state_dict(state, individual)
        for key, genome in state.get("proposed", {}).items():
            self.proposed[str(key)] = tuple(int(g) for g in genome)

    def _training_data(self, objectives: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Features and the (scalarized) objective of every told result, in key order; a
        result that was not fully trained counts as the worst seen."""
        keys = sorted(self.told)
        x = np.array([genome_features(self.told[k][0]) for k in keys])
        ok = [self.told[k][1].ok for k in keys]
        values = np.array(
            [
                [_SIGN[o] * float(getattr(self.told[k][1], o)) for o in objectives]
                if good
                else [np.nan] * len(objectives)
                for k, good in zip(keys, ok)
            ]
        )
        if not any(ok):
            return x, np.zeros(len(keys))
        worst = np.nanmin(values, axis=0)
        values = np.where(np.isnan(values), worst, values)
        if len(objectives) == 1:
            return x, values[:, 0]
        return x, _chebyshev(values, random)

    def _acquire(self, model: "_Model", x: np.ndarray, best: float) -> np.ndarray:
        kind = self.settings.acquisition
        if kind == "thompson":
            return model.sample(x, random.getrandbits(32))
        mean, std = model.predict(x)
        if kind == "ucb":
            return mean + _UCB_BETA * std
        return _expected_improvement(mean, std, best)


def _chebyshev(values: np.ndarray, rng: random.Random) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarization (larger is better) under a random weight."""
    low, high = values.min(axis=0), values.max(axis=0)
    scaled = (values - low) / np.where(high > low, high - low, 1.0)
    weights = np.array([rng.random() for _ in range(values.shape[1])]) + 1e-9
    weights /= weights.sum()
    gap = weights * (1.0 - scaled)
    return -(gap.max(axis=1) + 0.05 * gap.sum(axis=1))


def _expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    from scipy.stats import norm

    std = np.maximum(std, 1e-9)
    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)


class _Model:
    """A scikit-learn regressor with an uncertainty: a GP (``gp``: Matern 5/2 with a length scale
    per feature of at least its standard deviation, plus noise and a linear term; ``gp_additive``:
    the same with one Matern per part of the features, ``parts``; ``kernels.py``) or an
    extra-trees ensemble (the spread of its trees). Features are standardized on the told data;
    targets by the GP itself (``normalize_y``). The GP's hyperparameters are searched on at most
    ``_HYPER_SUBSET`` told results spread evenly over them (key order), so a step stays cheap
    late in a long run; every result enters the fit. Given ``fixed``, a GP model fitted before, it
    keeps that one's hyperparameters and feature scaling and only conditions on the data."""

    def __init__(
        self,
        kind: str,
        seed: int,
        parts: list[tuple[int, ...]] | None = None,
        fixed: "_Model | None" = None,
    ) -> None:
        self.kind, self.seed, self.regressor, self.fixed = kind, seed, None, fixed
        self.parts = parts if kind == "gp_additive" else None

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.fixed is not None:
            self.shift, self.scale = self.fixed.shift, self.fixed.scale
            self.regressor = self.fixed.regressor
            self.refit(x, y)
            return
        self.shift = x.mean(axis=0)
        spread = x.std(axis=0)
        self.scale = np.where(spread > 0, spread, 1.0)
        subset = _spread_subset(len(x), len(x) if self.kind == "forest" else _HYPER_SUBSET)
        self.regressor = _fit_quietly(self._new(optimize=True), self._scaled(x[subset]), y[subset])
        if len(subset) < len(x):
            self.refit(x, y)

    def refit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fit again with the hyperparameters found by ``fit`` (the kriging believer's update)."""
        self.regressor = _fit_quietly(self._new(optimize=False), self._scaled(x), y)

    def _scaled(self, x: np.ndarray) -> np.ndarray:
        return (x - self.shift) / self.scale

    def _new(self, optimize: bool):
        if self.kind == "forest":
            from sklearn.ensemble import ExtraTreesRegressor

            return ExtraTreesRegressor(
                n_estimators=64, min_samples_leaf=2, max_features=0.5, random_state=self.seed
            )
        from sklearn.gaussian_process import GaussianProcessRegressor

        if optimize or self.regressor is None:
            kernel, optimizer = gp_kernel(self.parts, len(self.shift)), _lbfgs
        else:
            kernel, optimizer = self.regressor.kernel_, None
        return GaussianProcessRegressor(
            kernel, normalize_y=True, optimizer=optimizer, random_state=self.seed
        )

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self._scaled(x)
        if self.kind == "forest":
            trees = np.array([tree.predict(x) for tree in self.regressor.estimators_])
            return trees.mean(axis=0), trees.std(axis=0)
        mean, std = self.regressor.predict(x, return_std=True)
        return mean, std

    def sample(self, x: np.ndarray, seed: int) -> np.ndarray:
        """One draw of the model's posterior over ``x`` (Thompson sampling)."""
        if self.kind == "forest":
            trees = self.regressor.estimators_
            return trees[seed % len(trees)].predict(self._scaled(x))
        return self.regressor.sample_y(self._scaled(x), random_state=seed)[:, 0]


def _spread_subset(count: int, size: int) -> np.ndarray:
    """Indices of ``size`` of ``count`` rows spread evenly over them (all when there are fewer):
    the hyperparameter search costs the cube of its rows, a fit with fixed ones far less."""
    if count <= size:
        return np.arange(count)
    return np.linspace(0, count - 1, size).round().astype(int)


def _lbfgs(objective, theta, bounds):
    """The GP's hyperparameter search: scikit-learn's L-BFGS-B, with fewer iterations."""
    from scipy.optimize import minimize

    found = minimize(
        objective, theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": 40}
    )
    return found.x, found.fun


def _fit_quietly(regressor, x, y):
    """Fit, without the optimizer's convergence warnings at a bound (expected on small data)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return regressor.fit(x, y)
