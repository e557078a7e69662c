"""One process per run folder: the lock every writer of a run folder takes.

The lock is a small JSON file, ``RUN/.lock``, created with ``O_CREAT | O_EXCL`` (atomic on every
local file system and on NFS v3+), holding who owns it: host, pid, the pid's start time and when
the lock was taken. While it is held, a daemon thread rewrites its heartbeat every
``heartbeat_s`` seconds.

A second process gets :class:`RunFolderInUse` (one line: ``RUN is in use by pid P on host H since
T``). A lock left behind is taken over, with a warning:

- on the same host, when its pid is gone, or the pid now belongs to another process (a different
  start time: the pid was reused);
- on another host, when its heartbeat is older than ``stale_after_s`` (a host cannot see another
  host's processes, so silence is the only sign of death).

Take-over renames the stale file away first; ``rename`` succeeds for one process only, so two
processes that find the same stale lock cannot both take it. Readers (analysis, export, checks)
never take the lock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .atomic import atomic_write_text
from .errors import UserError

__all__ = ["LOCK_NAME", "LockOwner", "RunFolderInUse", "RunLock", "run_lock"]

LOCK_NAME = ".lock"
log = logging.getLogger(__name__)


class RunFolderInUse(UserError):
    """Another live process holds the run folder's lock."""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a run folder: the lock file's content."""

    host: str
    pid: int
    pid_started: float | None
    since: float
    heartbeat: float

    @classmethod
    def me(cls) -> "LockOwner":
        now = time.time()
        return cls(socket.gethostname(), os.getpid(), _process_start(os.getpid()), now, now)

    @classmethod
    def from_json(cls, text: str) -> "LockOwner":
        data = json.loads(text)
        return cls(
            host=str(data["host"]),
            pid=int(data["pid"]),
            pid_started=None if data.get("pid_started") is None else float(data["pid_started"]),
            since=float(data["since"]),
            heartbeat=float(data["heartbeat"]),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.since, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on host {self.host} since {since}"


def _process_start(pid: int) -> float | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return float(fields[19])


def _alive(owner: LockOwner) -> bool:
    """Whether the lock's owner still runs (same host only)."""
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of another user: alive
    started = _process_start(owner.pid)
    return owner.pid_started is None or started is None or started == owner.pid_started


class RunLock:
    """The lock of ``run_dir``; :meth:`acquire` takes it, :meth:`release` gives it back."""

    def __init__(
        self, run_dir: str | os.PathLike, heartbeat_s: float = 30.0, stale_after_s: float = 300.0
    ) -> None:
        if stale_after_s <= heartbeat_s:
            raise ValueError("stale_after_s must exceed heartbeat_s")
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.owner: LockOwner | None = None
        self.created = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; RunFolderInUse when a live process holds it.
        A folder that does not exist yet is made (and removed again on release if the holder
        left nothing in it)."""
        self.created = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a take-over, then one more try; a third means a race we lost
            me = LockOwner.me()
            try:
                handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                self._take_over_if_stale()
                continue
            with os.fdopen(handle, "w") as out:
                out.write(me.to_json())
                out.flush()
                os.fsync(out.fileno())
            self.owner = me
            self._start_heartbeat()
            return
        raise RunFolderInUse(f"{self.run_dir} is in use by {self._holder_text()}")

    def _holder_text(self) -> str:
        holder = self._read()
        return holder.describe() if holder else "another process (its lock file is unreadable)"

    def _read(self) -> LockOwner | None:
        try:
            return LockOwner.from_json(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _take_over_if_stale(self) -> None:
        holder = self._read()
        if holder is None:
            if not self.path.exists():
                return  # released meanwhile: try again
            age = time.time() - self.path.stat().st_mtime
            if age < self.stale_after_s:  # being written right now, or damaged but fresh
                busy = f"{self.run_dir} is in use by another process (unreadable lock)"
                raise RunFolderInUse(busy)
            reason = "its lock file is unreadable and old"
        else:
            reason = self._stale_reason(holder)
            if reason is None:
                raise RunFolderInUse(f"{self.run_dir} is in use by {holder.describe()}")
        aside = self.path.with_name(f"{LOCK_NAME}.stale.{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return  # another process took it over first; the next try sees its lock
        aside.unlink(missing_ok=True)
        who = holder.describe() if holder else "an unknown process"
        log.warning("taking over the lock of %s from %s: %s", self.run_dir, who, reason)

    def _stale_reason(self, holder: LockOwner) -> str | None:
        if holder.host == socket.gethostname():
            if holder.pid == os.getpid():
                return None  # this process already holds it (a second writer in one process)
            return None if _alive(holder) else "that process is gone"
        silent = time.time() - holder.heartbeat
        if silent > self.stale_after_s:
            return f"no heartbeat for {silent:.0f} s (more than {self.stale_after_s:.0f} s)"
        return None

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if self._read() != self.owner:
                log.warning("the lock of %s was taken by another process", self.run_dir)
                return
            self.owner = LockOwner(**{**asdict(self.owner), "heartbeat": time.time()})
            try:
                atomic_write_text(self.path, self.owner.to_json())
            except OSError as err:
                log.warning("cannot refresh the lock of %s: %s", self.run_dir, err)

    def release(self) -> None:
        """Give the lock back (only if this process still holds it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.owner is not None and self._read() == self.owner:
            self.path.unlink(missing_ok=True)
            if self.created and not any(self.run_dir.iterdir()):
                self.run_dir.rmdir()
        self.owner = None


@contextmanager
def run_lock(run_dir: str | os.PathLike, **options) -> Iterator[RunLock]:
    """Hold the lock of ``run_dir`` for the block."""
    lock = RunLock(run_dir, **options)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
