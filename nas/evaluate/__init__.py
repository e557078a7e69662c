"""Scoring a denoiser on fixed validation blocks: :func:`evaluate` (``python -m nas.evaluate``
is __main__.py)."""

from .run import EvaluationResult, evaluate

__all__ = ["EvaluationResult", "evaluate"]
