"""Surviving lost workers and nodes quietly: Tune retries, one line per retry, Ray logs in a file.

* :func:`failure_config`: Ray Tune's ``FailureConfig`` with ``resources.max_retries`` retries.
* :class:`RetryLog`: a Tune callback that logs one line per retried trial
  (``trial g000_KEY: node lost, retrying 1 of 2``) with the reason read from Tune's error file,
  counts the retries of each candidate (:meth:`RetryLog.retries`) and, once a candidate's retries
  are spent, keeps why it failed (:meth:`RetryLog.failure`) so it is recorded failed and the
  search goes on. A trial Tune gave up on before its retries were spent is handed back to be
  started again as a new trial (:meth:`RetryLog.take_restarts`): Tune does that when a dead
  actor's second failure event reaches a trial it is already retrying (a reused actor lost while
  it was being reset for its next trial).
* :func:`quiet_ray_logs`: Ray's own traces, raylet messages and state dumps go to ``RUN/ray.log``
  instead of the console.
* :func:`tune_storage`: Ray Tune's own folders, outside the run folder. Tune's trial actors check
  that they can write into its storage path, so it must be a path every node can create: the
  system's temporary folder. Nothing the run keeps is there.

A retried trial trains again from scratch (a fitness evaluation has no checkpoint), with the
same seed, so its result is the one it would have had without the fault.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from pathlib import Path

__all__ = [
    "RAY_LOG",
    "failure_config",
    "failure_reason",
    "RetryLog",
    "retry_log",
    "quiet_ray_logs",
    "tune_storage",
]

log = logging.getLogger(__name__)
RAY_LOG = "ray.log"

# Ray's error texts, most specific first: (pattern, reason). An actor whose node's raylet is
# gone fails with ActorUnavailableError ("Socket closed") before the node is declared dead.
_REASONS = (
    (r"OutOfMemoryError|running low on memory|memory monitor", "out of memory"),
    (
        r"node has died|node .*marked dead|NodeDiedError|ActorUnavailableError|is unavailable",
        "node lost",
    ),
    (
        r"worker process has died|SIGKILL|SIGSEGV|exit code|connection error|WorkerCrashedError",
        "worker killed",
    ),
)


def tune_storage(run_dir: Path) -> Path:
    """Ray Tune's storage path for the run in ``run_dir``: in the temporary folder, named after
    the run folder (and a digest of its absolute path), the same on every node."""
    run_dir = Path(run_dir).resolve()
    digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / "mwnas-tune" / f"{run_dir.name}-{digest}"


def failure_config(max_retries: int):
    """Tune's ``FailureConfig``: a trial whose worker or node died starts again, up to
    ``max_retries`` times (``resources.max_retries``)."""
    from ray import tune

    return tune.FailureConfig(max_failures=max_retries)


def failure_reason(error_text: str) -> str:
    """A short reason for a trial failure from Ray's error text: ``node lost``, ``worker
    killed``, ``out of memory``, else the error's last line."""
    for pattern, reason in _REASONS:
        if re.search(pattern, error_text, flags=re.IGNORECASE):
            return reason
    lines = [line.strip() for line in error_text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "unknown error"


def _last_failure(trial) -> str:
    """The text of the trial's latest failure in Tune's error file (on the driver's disk)."""
    path = getattr(trial, "error_file", None)
    if not path or not Path(path).is_file():
        return ""
    text = Path(path).read_text(errors="replace")
    return re.split(r"^Failure # \d+ .*$", text, flags=re.MULTILINE)[-1]


def trial_key_of(keys):
    """``key_of(trial)`` from a function, or from a list indexed by the trial's config index."""
    if callable(keys):
        return keys
    listed = list(keys)
    return lambda trial: listed[trial.config["index"]]


class RetryLog:
    """Counts and reports the retries of one generation's trials (a Tune callback: build it with
    :func:`retry_log`). ``keys`` is ``key_of(trial)``, a trial's candidate key, or a list:
    ``keys[i]`` is the key of the trial whose config index is i."""

    def __init__(self, keys, max_retries: int) -> None:
        self.key_of, self.max_retries = trial_key_of(keys), max_retries
        self._retries: dict[str, int] = {}
        self._failures: dict[str, str] = {}
        self._restarts: list[str] = []  # keys to start again as new trials, oldest first

    def retries(self, key: str) -> int:
        """How many times the candidate's trial was started again."""
        return self._retries.get(key, 0)

    def failure(self, key: str) -> str | None:
        """Why the candidate's trial failed for good (its retries spent), or None."""
        return self._failures.get(key)

    def restarting(self, key: str) -> bool:
        """Whether the candidate's errored trial is to be started again (not a failure)."""
        return key in self._restarts

    def take_restarts(self) -> list[str]:
        """The keys to start again as new trials (each once), oldest first."""
        keys, self._restarts = self._restarts, []
        return keys

    def _key(self, trial) -> str:
        return self.key_of(trial)

    def _log_retry(self, trial, key: str, reason: str) -> None:
        self._retries[key] = self.retries(key) + 1
        log.warning(
            "trial %s: %s, retrying %d of %d",
            trial,
            reason,
            self._retries[key],
            self.max_retries,
        )

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self._log_retry(trial, self._key(trial), failure_reason(_last_failure(trial)))

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        key = self._key(trial)
        reason = failure_reason(_last_failure(trial))
        spent = self.retries(key)
        if spent < self.max_retries:  # Tune gave up early: start it again as a new trial
            self._log_retry(trial, key, reason)
            self._restarts.append(key)
            return
        self._failures[key] = (
            f"{reason} (after {spent} {'retry' if spent == 1 else 'retries'})" if spent else reason
        )
        log.warning("trial %s: %s; recorded failed", trial, self._failures[key])


def retry_log(keys, max_retries: int) -> RetryLog:
    """A :class:`RetryLog` that is also a Ray Tune ``Callback`` (Tune checks the type)."""
    from ray import tune

    class TuneRetryLog(RetryLog, tune.Callback):
        pass

    return TuneRetryLog(keys, max_retries)


class _RayLogFile(logging.FileHandler):
    """Marks the handler :func:`quiet_ray_logs` installs, so a second call finds it."""


def quiet_ray_logs(run_dir: Path) -> Path:
    """Send Ray's Python loggers (Tune's trial tracebacks among them) and the raylet messages
    Ray prints on the driver (node deaths, with the dead raylet's state dump) to
    ``run_dir/ray.log`` instead of the console. Call after ``ray.init`` (which installs Ray's
    console handler); calling again for the same folder changes nothing. Returns the log's path."""
    import ray._private.worker as ray_worker

    path = Path(run_dir) / RAY_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    ray_logger = logging.getLogger("ray")
    for name in ["ray", *[n for n in logging.root.manager.loggerDict if n.startswith("ray.")]]:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            is_ours = isinstance(handler, _RayLogFile)
            if (is_ours and Path(handler.baseFilename) != path.resolve()) or (
                not is_ours and not isinstance(handler, logging.FileHandler)
            ):
                logger.removeHandler(handler)
                handler.close() if is_ours else None
    if not any(isinstance(h, _RayLogFile) for h in ray_logger.handlers):
        handler = _RayLogFile(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        ray_logger.addHandler(handler)
    ray_logger.propagate = False
    # The driver's error listener prints each raylet message with this module-level function
    # (looked up at each call); there is no setting for it. Other output passes through.
    printer = ray_worker.print_to_stdstream
    original = getattr(printer, "original", printer)

    def print_to_stdstream(data, ignore_prefix):
        if data.get("pid") == "raylet":
            for line in data.get("lines", []):
                ray_logger.warning("(raylet) %s", line)
        else:
            original(data, ignore_prefix)

    print_to_stdstream.original = original
    ray_worker.print_to_stdstream = print_to_stdstream
    return path
