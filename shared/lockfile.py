"""lock.json: per stage instance, the fingerprint it ran with and the outputs it left.

Written atomically, and only after a stage succeeded: an interrupted run leaves the previous
lock intact, so the next run redoes exactly the unfinished stage.
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

from pydantic import BaseModel, Field

from shared import atomic
from shared.errors import JobBusyError

LOCK_FILE = "lock.json"
RUN_PID_FILE = "run.pid"


class OutputRecord(BaseModel):
    path: str  # relative to the job folder
    sha256: str
    size: int


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@contextmanager
def hold(job_dir: Path) -> Iterator[None]:
    """Refuse a second run-pipeline on the same job; take over from a dead one."""
    path = job_dir / RUN_PID_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                other = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                other = {}
            pid = int(other.get("pid", 0) or 0)
            same_host = other.get("host") == me["host"]
            if pid and same_host and _alive(pid):
                raise JobBusyError(
                    f"job {job_dir.name} is already being run by process {pid}",
                    fix=f"wait for it to finish, or stop it (kill {pid}) and run again") from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(me, handle)
        break
    else:
        raise JobBusyError(f"could not lock job {job_dir.name}", fix=f"remove {path}")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
