"""Shared command-line plumbing: one-line errors for bad input, logging set-up."""

from __future__ import annotations

import argparse
import functools
import inspect
import logging
import os
import sys

from .errors import UserError, first_line

__all__ = [
    "USER_ERRORS",
    "UsageError",
    "CommandParser",
    "cli_main",
    "defaults_of",
    "user_error",
    "parse_duration",
    "positive_int",
    "multiple_of_8",
    "cpu_threads",
    "available_cpus",
    "seed_int",
    "positive_float",
    "nonnegative_float",
]


class UsageError(UserError):
    """A command-line value is out of range or inconsistent."""


# Errors that mean "bad input", reported in one line without a traceback: the toolkit's own
# (UserError: specs, weights, --arch, data, tiling, devices, usage, ...) and the file system's.
USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


class CommandParser(argparse.ArgumentParser):
    """argparse with the toolkit's one-line errors (``error: ...``, exit 2) and raw help text."""

    def __init__(self, prog: str, description: str | None = None) -> None:
        super().__init__(
            prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
        )

    def error(self, message: str):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


_SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> float:
    """Seconds of ``90m``, ``2h``, ``45s``, ``1d`` or plain seconds (``3600``); UsageError
    otherwise."""
    number, unit = (
        (text[:-1], text[-1].lower()) if text and text[-1].lower() in _SECONDS_PER else (text, "s")
    )
    try:
        seconds = float(number) * _SECONDS_PER[unit]
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected a duration such as 90m, 2h or 3600 (seconds)"
        ) from None
    if not seconds > 0 or seconds == float("inf"):
        raise UsageError(f"{option} {text!r}: must be positive and finite")
    return seconds


def _converted(text: str, convert, expected: str):
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _converted(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _float(text: str) -> float:
    value = _converted(text, float, "a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def multiple_of_8(text: str) -> int:
    """argparse type: a positive multiple of 8 (the wavelet U-Net halves a side three times)."""
    value = positive_int(text)
    if value % 8:
        raise argparse.ArgumentTypeError(f"must be a positive multiple of 8, got {value}")
    return value


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS reports one)."""
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def cpu_threads(text: str) -> int:
    """argparse type: PyTorch CPU threads, 1 to the CPUs this process may use."""
    value = positive_int(text)
    if value > available_cpus():
        raise argparse.ArgumentTypeError(
            f"{value} threads, but this process may use {available_cpus()} CPUs"
        )
    return value


def seed_int(text: str) -> int:
    """argparse type: a random seed, 0 to 2**32 - 1 (what every generator the toolkit seeds
    accepts)."""
    value = _converted(text, int, "an integer")
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {value}")
    return value


def defaults_of(fn) -> dict[str, object]:
    """The default of each parameter of ``fn`` that has one: a command line's option defaults are
    read from the Python function it calls, so each default is written once."""
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


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
            print(f"error: {first_line(err)}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper


def add_ensemble_options(parser: argparse.ArgumentParser, per: str = "") -> None:
    """``--ensemble`` and ``--ensemble-protocol`` (which implies it); read them back with
    :func:`ensemble_choice`."""
    from .inference import DEFAULT_ENSEMBLE_PROTOCOL, ENSEMBLE_PROTOCOLS

    parser.add_argument(
        "--ensemble",
        action="store_true",
        help=f"x8 self-ensemble{per} (protocol: --ensemble-protocol)",
    )
    parser.add_argument(
        "--ensemble-protocol",
        choices=ENSEMBLE_PROTOCOLS,
        help="how the x8 views meet the network (implies --ensemble): paper, each view as it "
        "is (the paper's protocol); phase, each view re-aligned to the network's CFA pattern "
        f"(default: {DEFAULT_ENSEMBLE_PROTOCOL})",
    )


def ensemble_choice(args: argparse.Namespace) -> dict:
    """The ``ensemble`` and ``ensemble_protocol`` arguments of evaluate / denoise, from the
    options of :func:`add_ensemble_options`."""
    from .inference import DEFAULT_ENSEMBLE_PROTOCOL

    return {
        "ensemble": args.ensemble or args.ensemble_protocol is not None,
        "ensemble_protocol": args.ensemble_protocol or DEFAULT_ENSEMBLE_PROTOCOL,
    }
