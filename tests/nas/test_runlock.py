"""The run folder's lock: one live writer, stale locks taken over, a readable refusal."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from nas.runlock import LOCK_NAME, LockOwner, RunFolderInUse, RunLock, run_lock


def _write_lock(run_dir, **fields):
    now = time.time()
    owner = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_started": None,
        "since": now,
        "heartbeat": now,
        **fields,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / LOCK_NAME).write_text(json.dumps(owner))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_writer_is_refused_with_owner_pid_host_and_time(tmp_path):
    with run_lock(tmp_path / "run"):
        with pytest.raises(RunFolderInUse) as err:
            RunLock(tmp_path / "run").acquire()
    message = str(err.value)
    assert f"pid {os.getpid()} on host {socket.gethostname()} since " in message
    assert "\n" not in message


def test_release_removes_the_lock_and_the_folder_can_be_taken_again(tmp_path):
    with run_lock(tmp_path):
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()
    with run_lock(tmp_path):
        pass


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over_with_a_warning(tmp_path, caplog):
    _write_lock(tmp_path, pid=_dead_pid())
    with caplog.at_level(logging.WARNING, logger="nas.runlock"):
        with run_lock(tmp_path) as lock:
            assert LockOwner.from_json((tmp_path / LOCK_NAME).read_text()).pid == os.getpid()
            assert lock.owner.pid == os.getpid()
    assert "that process is gone" in caplog.text


def test_a_reused_pid_does_not_keep_a_stale_lock(tmp_path, caplog):
    # the parent process is alive, but its start time is not the recorded one
    _write_lock(tmp_path, pid=os.getppid(), pid_started=-1.0)
    with caplog.at_level(logging.WARNING, logger="nas.runlock"):
        with run_lock(tmp_path):
            pass
    assert "taking over" in caplog.text


def test_a_live_process_on_this_host_keeps_its_lock(tmp_path):
    _write_lock(tmp_path, pid=os.getppid(), pid_started=None)
    with pytest.raises(RunFolderInUse, match=f"pid {os.getppid()}"):
        RunLock(tmp_path).acquire()
    assert LockOwner.from_json((tmp_path / LOCK_NAME).read_text()).pid == os.getppid()


def test_another_hosts_lock_is_kept_while_its_heartbeat_is_fresh(tmp_path):
    _write_lock(tmp_path, host="elsewhere", pid=1)
    with pytest.raises(RunFolderInUse, match="on host elsewhere"):
        RunLock(tmp_path, heartbeat_s=1, stale_after_s=60).acquire()


def test_another_hosts_lock_without_heartbeat_is_taken_over(tmp_path, caplog):
    old = time.time() - 120
    _write_lock(tmp_path, host="elsewhere", pid=1, since=old, heartbeat=old)
    with caplog.at_level(logging.WARNING, logger="nas.runlock"):
        with run_lock(tmp_path, heartbeat_s=1, stale_after_s=60):
            pass
    assert "no heartbeat for" in caplog.text


def test_the_heartbeat_is_refreshed_while_held(tmp_path):
    with run_lock(tmp_path, heartbeat_s=0.05, stale_after_s=1) as lock:
        first = LockOwner.from_json((tmp_path / LOCK_NAME).read_text()).heartbeat
        time.sleep(0.3)
        later = LockOwner.from_json((tmp_path / LOCK_NAME).read_text()).heartbeat
        assert later > first
        assert lock.owner.since == LockOwner.from_json((tmp_path / LOCK_NAME).read_text()).since


def test_release_leaves_a_lock_that_another_process_took_over(tmp_path):
    lock = RunLock(tmp_path)
    lock.acquire()
    _write_lock(tmp_path, host="elsewhere", pid=7)  # taken over behind our back
    lock.release()
    assert LockOwner.from_json((tmp_path / LOCK_NAME).read_text()).host == "elsewhere"


def test_a_process_killed_with_sigkill_leaves_a_lock_the_next_one_takes_over(tmp_path):
    holder = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from nas.runlock import run_lock
        with run_lock({str(tmp_path)!r}):
            print("held", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderInUse, match=f"pid {child.pid}"):
            RunLock(tmp_path).acquire()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        with run_lock(tmp_path) as lock:
            assert lock.owner.pid == os.getpid()
    finally:
        child.kill()
        child.wait()
