"""A surrogate of proxy PSNR, fitted on an evaluation database (the idea of NAS-Bench-301).

:class:`Surrogate` is scikit-learn gradient boosting on features of the spec: per group slot its
block count and block type (one-hot, zero when the slot is empty), the log2 width of each level,
and the log of the full network's parameters and GFLOPs. Its held-out quality is measured by
K-fold cross-validation (Kendall's tau and mean absolute error).

:class:`SurrogateEvaluator` answers the engine's evaluator interface with the surrogate's
prediction (:meth:`~SurrogateEvaluator.score` for an ask/tell client), so the real engine and
schemes run a whole search in seconds (``bench/bench_search.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau

from models import GROUP_NAMES, ArchSpec, composed_cost

from .result import Candidate, CandidateResult

__all__ = ["spec_features", "feature_names", "Surrogate", "CrossValidation", "SurrogateEvaluator"]


def feature_names(blocks: list[str]) -> list[str]:
    names = []
    for group in GROUP_NAMES:
        names += [f"{group}.count"] + [f"{group}.{block}" for block in blocks]
    return names + [
        "level1.log2_width",
        "level2.log2_width",
        "level3.log2_width",
        "log_params",
        "log_gflops",
    ]


def spec_features(spec: ArchSpec, blocks: list[str]) -> list[float]:
    """The feature vector of one spec (see :func:`feature_names`)."""
    row = []
    for group in spec.groups:
        count = group.num_blocks * group.num_groups
        row += [count] + [float(count > 0 and group.block == block) for block in blocks]
    cost = composed_cost(spec)
    return (
        row
        + [float(np.log2(w)) for w in spec.widths]
        + [float(np.log(cost.params)), float(np.log(cost.gflops))]
    )


@dataclass(frozen=True)
class CrossValidation:
    """Held-out quality of the surrogate: Kendall's tau and MAE (dB) over K folds, pooled."""

    kendall_tau: float
    mae_db: float
    folds: int


class Surrogate:
    """Gradient-boosted regression trees from spec features to proxy PSNR."""

    def __init__(self, blocks: list[str], seed: int = 0) -> None:
        self.blocks, self.seed, self.model = list(blocks), seed, None

    def _regressor(self):
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(
            n_estimators=400,
            max_depth=3,
            learning_rate=0.03,
            subsample=0.8,
            min_samples_leaf=3,
            random_state=self.seed,
        )

    def features(self, specs: list[ArchSpec]) -> np.ndarray:
        return np.array([spec_features(s, self.blocks) for s in specs], dtype=np.float64)

    def fit(self, specs: list[ArchSpec], psnr_db: np.ndarray) -> "Surrogate":
        if len(specs) < 10:
            raise ValueError(f"a surrogate needs at least 10 evaluations, got {len(specs)}")
        self.model = self._regressor().fit(
            self.features(specs), np.asarray(psnr_db, dtype=np.float64)
        )
        return self

    def predict(self, specs: list[ArchSpec]) -> np.ndarray:
        return self.model.predict(self.features(specs))

    def cross_validate(
        self, specs: list[ArchSpec], psnr_db: np.ndarray, folds: int = 5
    ) -> CrossValidation:
        """Pooled out-of-fold predictions: Kendall's tau against the truth and the MAE."""
        from sklearn.model_selection import KFold

        x, y = self.features(specs), np.asarray(psnr_db, dtype=np.float64)
        predicted = np.empty_like(y)
        for train, test in KFold(folds, shuffle=True, random_state=self.seed).split(x):
            predicted[test] = self._regressor().fit(x[train], y[train]).predict(x[test])
        return CrossValidation(
            float(kendalltau(predicted, y).statistic), float(np.abs(predicted - y).mean()), folds
        )

    def importance(
        self, specs: list[ArchSpec], psnr_db: np.ndarray, repeats: int = 10
    ) -> dict[str, float]:
        """Permutation importance of each feature (drop in R^2 when it is shuffled)."""
        from sklearn.inspection import permutation_importance

        result = permutation_importance(
            self.model,
            self.features(specs),
            np.asarray(psnr_db),
            n_repeats=repeats,
            random_state=self.seed,
        )
        return dict(zip(feature_names(self.blocks), result.importances_mean))


class SurrogateEvaluator:
    """The engine's evaluator interface, answered by a fitted :class:`Surrogate` in milliseconds;
    :meth:`score` for an ask/tell client."""

    def __init__(self, surrogate: Surrogate) -> None:
        self.surrogate = surrogate
        self.evaluations = 0

    def score(self, candidates: list[Candidate]) -> dict[str, CandidateResult]:
        """The predicted result of each candidate, by key (its cost from the cost model)."""
        if not candidates:
            return {}
        predicted = self.surrogate.predict([c.spec for c in candidates])
        results = {}
        for candidate, psnr in zip(candidates, predicted):
            cost = composed_cost(candidate.spec)
            results[candidate.key] = CandidateResult(
                "ok", float(psnr), 0.0, cost.params, cost.gflops, steps=candidate.budget.steps
            )
        self.evaluations += len(candidates)
        return results

    def evaluate(
        self, candidates: list[Candidate], generation: int, on_result=None
    ) -> dict[str, CandidateResult]:
        results = self.score(candidates)
        for key, result in results.items():
            if on_result:
                on_result(key, result)
        return results
