"""The toolkit from Python: each command's work as one function with typed arguments and a typed
result (a dataclass), for notebooks and scripts.

    from nas.api import search, export, train, evaluate, denoise

    outcome = search("rcab_dense.yaml", out="runs/demo")            # -> SearchOutcome
    exported = export(outcome.run_dir / "best.json")                # -> ExportResult
    summary = train(exported.model_json, data="synthetic", steps=20000)   # -> TrainSummary
    scores = evaluate(summary.best, data="synthetic", ensemble=True)      # -> EvaluationResult
    denoise("IMG_0001.dng", "denoised.dng", arch=summary.best)           # -> DenoiseResult

Each function raises the toolkit's typed errors for bad input (subclasses of
:class:`nas.errors.UserError`, or the file system's), never exits and never prints: progress goes
to a tqdm bar (``progress=False`` turns it off) and warnings to :mod:`logging`. The command lines
(``python -m nas.export`` ...) parse their options, call these functions and print the results.
"""

from __future__ import annotations

from .denoise import DenoiseResult, denoise
from .evaluate import EvaluationResult, evaluate
from .export import ExportResult, export
from .search.run import SearchOutcome, resume, search
from .train import TrainConfig, TrainSummary, train

__all__ = [
    "DenoiseResult",
    "EvaluationResult",
    "ExportResult",
    "SearchOutcome",
    "TrainConfig",
    "TrainSummary",
    "denoise",
    "evaluate",
    "export",
    "resume",
    "search",
    "train",
]
