"""The guided GP's kernels: one Matern over every feature (``gp``), or a sum of one Matern per
part of the genome (``gp_additive``); both with noise and a linear term.

A denoiser's quality is close to a sum of what each part of it contributes (the blocks of each
group, the widths of the levels), so the GP models it as such: a Matern 5/2 kernel with its own
amplitude and a length scale per feature on each part's columns (a group slot's block count and
block type; the widths), plus noise and a linear term over every feature. Each part then learns
from every result that varies it, whatever the other parts hold, and a good group seen in one
genome carries to genomes that differ elsewhere (Duvenaud et al. 2011, "Additive Gaussian
processes"; Kandasamy et al. 2015, "High dimensional Bayesian optimisation and bandits via
additive models"). The linear term carries a trend (more blocks, wider levels) beyond the told
genomes, which a stationary kernel forgets. Length scales below one standard deviation of a
feature would let a few results fit noise, so that is their floor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.gaussian_process.kernels import (
    ConstantKernel,
    DotProduct,
    Hyperparameter,
    Kernel,
    Matern,
    WhiteKernel,
)

__all__ = ["OnColumns", "gp_kernel"]


def gp_kernel(parts: Sequence[Sequence[int]] | None, dims: int) -> Kernel:
    """Noise, a linear term and an amplitude-scaled ARD Matern over all ``dims`` features, or,
    given ``parts`` (columns of the standardized features), one such Matern per part."""
    noise = WhiteKernel(0.1, (1e-4, 1.0))
    linear = ConstantKernel(0.1, (1e-3, 1e1)) * DotProduct(1.0, (1e-2, 1e2))
    if not parts:
        return ConstantKernel(1.0, (1e-2, 1e2)) * _matern(dims) + noise + linear
    kernel = noise + linear
    for columns in parts:
        kernel += ConstantKernel(0.3, (1e-3, 1e1)) * OnColumns(_matern(len(columns)), columns)
    return kernel


def _matern(dims: int) -> Matern:
    return Matern(np.full(dims, 2.0), (1.0, 1e3), nu=2.5)


class OnColumns(Kernel):
    """``kernel`` applied to ``columns`` of the inputs only; its hyperparameters are this one's
    (named ``kernel__...``, as scikit-learn's composite kernels name theirs)."""

    def __init__(self, kernel: Kernel, columns: Sequence[int]) -> None:
        self.kernel, self.columns = kernel, tuple(columns)

    def get_params(self, deep: bool = True) -> dict:
        params = {"kernel": self.kernel, "columns": self.columns}
        if deep:
            params.update(("kernel__" + k, v) for k, v in self.kernel.get_params().items())
        return params

    @property
    def hyperparameters(self) -> list[Hyperparameter]:
        return [
            Hyperparameter("kernel__" + h.name, h.value_type, h.bounds, h.n_elements, h.fixed)
            for h in self.kernel.hyperparameters
        ]

    @property
    def theta(self) -> np.ndarray:
        return self.kernel.theta

    @theta.setter
    def theta(self, theta: np.ndarray) -> None:
        self.kernel.theta = theta

    @property
    def bounds(self) -> np.ndarray:
        return self.kernel.bounds

    def __call__(self, X, Y=None, eval_gradient=False):
        columns = list(self.columns)
        Y = None if Y is None else np.asarray(Y)[:, columns]
        return self.kernel(np.asarray(X)[:, columns], Y, eval_gradient)

    def diag(self, X) -> np.ndarray:
        return self.kernel.diag(np.asarray(X)[:, list(self.columns)])

    def is_stationary(self) -> bool:
        return self.kernel.is_stationary()

    @property
    def requires_vector_input(self) -> bool:
        return True

    def __eq__(self, other) -> bool:
        return (
            type(self) is type(other)
            and self.kernel == other.kernel
            and self.columns == other.columns
        )

    def __repr__(self) -> str:
        return f"{self.kernel!r} on columns {list(self.columns)}"
