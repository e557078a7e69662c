"""Denoising one full-size image: :func:`denoise` (``python -m nas.denoise`` is __main__.py)."""

from .run import DenoiseResult, denoise

__all__ = ["DenoiseResult", "denoise"]
