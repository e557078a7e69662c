"""The toolkit's user-error base and its one-line message: the bottom of the import graph.

Every error that means "bad input" (a malformed spec, an unreadable weights file, a missing data
folder, ...) derives from :class:`UserError`; the command lines catch that one base and print
:func:`first_line` of it. They live here, below everything, so that ``models`` (which imports
nothing of ``nas``) can derive its errors from the same base; ``nas.errors`` re-exports both.
"""

from __future__ import annotations

__all__ = ["UserError", "first_line"]


class UserError(ValueError):
    """Bad input: reported as one line ``error: ...`` without a traceback."""


def first_line(err: BaseException) -> str:
    """The first non-blank line of an error's message (bytes messages decoded, as LibRaw's are);
    the error's type name when the message is blank."""
    text = (
        err.args[0].decode(errors="replace")
        if len(err.args) == 1 and isinstance(err.args[0], bytes)
        else str(err)
    )
    return text.strip().splitlines()[0].strip() if text.strip() else type(err).__name__
