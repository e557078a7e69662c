"""Exporting a search result as a full-width network: :func:`export` (``python -m nas.export``
is __main__.py)."""

from .run import DEFAULT_FORMATS, ExportResult, export

__all__ = ["DEFAULT_FORMATS", "ExportResult", "export"]
