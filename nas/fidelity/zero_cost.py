"""Zero-cost proxies: scores of an untrained network from one batch (Abdelfattah et al. 2021,
"Zero-Cost Proxies for Lightweight NAS"; Mellor et al. 2021, "NAS without Training").

* ``grad_norm``: the sum of the gradient norms of the L1 loss on one batch.
* ``synflow``: with every weight replaced by its absolute value and an all-ones input, the sum
  of |weight x d(sum of outputs)/d(weight)| (data-free, in float64 to avoid overflow).
* ``jacob_cov``: minus the log-eigenvalue spread of the correlation of the input Jacobians
  across the batch; networks that tell inputs apart score higher.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ZERO_COST_PROXIES", "zero_cost_scores"]

ZERO_COST_PROXIES = ("grad_norm", "synflow", "jacob_cov")


def grad_norm(model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor) -> float:
    model.zero_grad(set_to_none=True)
    F.l1_loss(model(noisy), clean).backward()
    return float(sum(p.grad.norm() for p in model.parameters() if p.grad is not None))


def synflow(model: torch.nn.Module, noisy: torch.Tensor) -> float:
    net = copy.deepcopy(model).double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad(set_to_none=True)
    net(torch.ones_like(noisy[:1], dtype=torch.float64)).sum().backward()
    return float(sum((p * p.grad).abs().sum() for p in net.parameters() if p.grad is not None))


def jacob_cov(model: torch.nn.Module, noisy: torch.Tensor) -> float:
    x = noisy.clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    model(x).sum().backward()
    jacobians = x.grad.reshape(len(x), -1).double().numpy()
    correlation = np.corrcoef(jacobians)
    eigenvalues = np.linalg.eigvalsh(np.nan_to_num(correlation))
    k = 1e-5
    return float(-np.sum(np.log(np.abs(eigenvalues) + k) + 1.0 / (np.abs(eigenvalues) + k)))


def zero_cost_scores(
    model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor
) -> dict[str, float]:
    """Every proxy of ``model`` (untrained, on the CPU) for one training batch."""
    model.train()
    return {
        "grad_norm": grad_norm(model, noisy, clean),
        "synflow": synflow(model, noisy),
        "jacob_cov": jacob_cov(model, noisy),
    }
