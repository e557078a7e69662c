"""Shared command-line plumbing: one-line errors for bad input, logging set-up."""
from __future__ import annotations

import argparse
import functools
import logging
import sys

from models import SpecError, WeightsError

from .arch import ArchError
from .data import DataError
from .device import DeviceError
from .inference import TilingError

__all__ = ["USER_ERRORS", "UsageError", "CommandParser", "cli_main", "user_error"]


class UsageError(ValueError):
    """A command-line value is out of range or inconsistent."""

# Errors that mean "bad input", reported in one line without a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (UsageError, SpecError, WeightsError, ArchError, DataError, TilingError, DeviceError,
                                                 FileNotFoundError, FileExistsError, IsADirectoryError,
                                                 NotADirectoryError, PermissionError)


class CommandParser(argparse.ArgumentParser):
    """argparse with the toolkit's one-line errors (``error: ...``, exit 2) and raw help text."""

    def __init__(self, prog: str, description: str | None = None) -> None:
        super().__init__(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def user_error(*types: type[BaseException]) -> None:
    """Register more error types (e.g. the search space's) as one-line user errors."""
    global USER_ERRORS
    USER_ERRORS = USER_ERRORS + tuple(t for t in types if t not in USER_ERRORS)


def cli_main(fn):
    """Wrap a CLI ``main(argv)``: bad input prints ``error: ...`` and exits 2, Ctrl-C exits 130."""
    @functools.wraps(fn)
    def wrapper(argv=None):
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            return fn(argv)
        except USER_ERRORS as err:
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
    return wrapper
