"""lock.json: per stage instance, the fingerprint it ran with and the outputs it left.

Written atomically, and only after a stage succeeded: an interrupted run leaves the previous
lock intact, so the next run redoes exactly the unfinished stage. An output removed by
`run-pipeline.sh --prune` stays recorded (path, sha256, size) with ``pruned: true``: the
runner counts it as present until a stage that reads it must run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel, Field

from shared import atomic
from shared.errors import JobBusyError

LOCK_FILE = "lock.json"
RUN_PID_FILE = "run.pid"  # who holds run.lock: pid + host, for the "busy" message
RUN_LOCK_FILE = "run.lock"  # the OS lock a run holds while it runs


class OutputRecord(BaseModel):
    path: str  # relative to the job folder
    sha256: str
    size: int
    pruned: bool = False  # removed by --prune; sha256 and size are those it had


class StageRecord(BaseModel):
    key: str
    stage: str
    env: str
    status: str = "done"
    fingerprint: str
    components: dict[str, Any]
    outputs: list[OutputRecord]
    started_at: str
    finished_at: str
    duration_s: float
    info: dict[str, Any] = Field(default_factory=dict)
    degraded: list[str] = Field(default_factory=list)  # StageResult.degraded of that run
    node: str | None = None  # the machine (local) or Ray node ("host/node-id") that ran it


class JobLock(BaseModel):
    schema_version: int = 1
    stages: dict[str, StageRecord] = Field(default_factory=dict)


def load(job_dir: Path) -> JobLock:
    path = job_dir / LOCK_FILE
    if not path.is_file():
        return JobLock()
    try:
        return JobLock.model_validate_json(path.read_text("utf-8"))
    except ValueError:
        # A damaged lock only costs a re-run: treat every stage as not done.
        return JobLock()


def record(job_dir: Path, entry: StageRecord) -> None:
    lock = load(job_dir)
    lock.stages[entry.key] = entry
    atomic.write_text(job_dir / LOCK_FILE, lock.model_dump_json(indent=2) + "\n")


def pruned_outputs(job_dir: Path) -> dict[Path, OutputRecord]:
    """The outputs --prune removed (their records), by absolute path."""
    return {(job_dir / o.path).resolve(): o for r in load(job_dir).stages.values()
            for o in r.outputs if o.pruned}


def mark_pruned(job_dir: Path, paths: set[str]) -> None:
    """Record the outputs at ``paths`` (relative to the job folder) as pruned. Written
    before the files are removed: a crash in between leaves a file the runner still checks
    by its hash."""
    lock = load(job_dir)
    for entry in lock.stages.values():
        for output in entry.outputs:
            if output.path in paths:
                output.pruned = True
    atomic.write_text(job_dir / LOCK_FILE, lock.model_dump_json(indent=2) + "\n")


def _busy(job_dir: Path) -> JobBusyError:
    """The "busy" error, naming the holder from run.pid when it has written it."""
    try:
        other = json.loads((job_dir / RUN_PID_FILE).read_text("utf-8"))
        pid, host = int(other.get("pid") or 0), other.get("host")
    except (OSError, ValueError, TypeError, AttributeError):
        pid, host = 0, None
    if not pid:  # the holder has not written run.pid yet
        return JobBusyError(f"job {job_dir.name} is already being run by another process",
                            fix="wait for it to finish, or stop it and run again")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return JobBusyError(f"job {job_dir.name} is already being run by process {pid}{where}",
                        fix=f"wait for it to finish, or stop it (kill {pid}) and run again")


@contextmanager
def hold(job_dir: Path) -> Iterator[None]:
    """Refuse a second run-pipeline on the same job.

    The lock is the operating system's (flock / LockFileEx through filelock) on run.lock: it
    is released when its process ends, however it ends, so a crashed run leaves nothing to
    clean up, and of two runners only one can take it. run.pid only tells who holds it (pid +
    host), for the "busy" message; it is written after the lock is taken and removed before it
    is released. run.lock itself stays: deleting a lock file races with the next taker."""
    pid_path = job_dir / RUN_PID_FILE
    lock = FileLock(job_dir / RUN_LOCK_FILE, blocking=False)
    try:
        lock.acquire()
    except Timeout:
        raise _busy(job_dir) from None
    try:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        atomic.write_text(pid_path, json.dumps(me))
        yield
    finally:
        pid_path.unlink(missing_ok=True)
        lock.release()
