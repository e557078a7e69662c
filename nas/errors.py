"""The toolkit's error vocabulary: the user-error base, its one-line message, the data error.

Each user-facing error class lives beside its idea (``models.SpecError``, ``nas.arch.ArchError``,
``nas.device.DeviceError``, ...) and derives from :class:`UserError`, which the command lines
catch (:func:`nas.cli.cli_main`). The base and :func:`first_line` are defined in
:mod:`models.errors` so that ``models``, which never imports ``nas``, shares them.
"""

from __future__ import annotations

from models.errors import UserError, first_line

__all__ = ["UserError", "first_line", "DataError"]


class DataError(UserError):
    """A data file or source is missing or is not what it should be; the message says what was
    found."""
