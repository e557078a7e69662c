"""Training one network in full: :func:`train` (``python -m nas.train`` is __main__.py)."""

from .config import TrainConfig, TrainError
from .run import train
from .trainer import TrainSummary

__all__ = ["TrainConfig", "TrainError", "TrainSummary", "train"]
