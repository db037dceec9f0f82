"""logs/last_run.json: what the last run of a job did with each stage instance, written as
the run goes (atomically, after every change): run or skip and why, when it started and
ended, ran / failed (and why) / interrupted, and the stages run again only to make an input
--prune removed. The review report's stage table reads it; logs/pipeline.log says the same
in words for a person. A dry run records nothing; a run stopped by preflight problems
starts no record (the previous one stays)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared import atomic
from shared.errors import PipelineError
from shared.job import utc_now

RECORD_FILE = "logs/last_run.json"

State = Literal["skipped", "running", "ran", "failed", "interrupted"]


class StageEntry(BaseModel):
    state: State
    reasons: list[str] = Field(default_factory=list)  # why it ran, or why it was skipped
    restored: bool = False  # run again only to make an output --prune removed
    error: str | None = None  # failed: what went wrong
    fix: str | None = None  # failed: what to do about it
    decided_at: str
    started_at: str | None = None
    finished_at: str | None = None
    wall_s: float | None = None  # started -> ended, as the runner saw it
    node: str | None = None  # where the stage process runs (the executor's node label)


class LastRun(BaseModel):
    schema_version: int = 1
    started_at: str
    finished_at: str | None = None  # None: still running, or the runner was killed
    options: dict[str, Any] = Field(default_factory=dict)  # --from/--to/--only/--force
    stages: dict[str, StageEntry] = Field(default_factory=dict)


def load(job_dir: Path) -> LastRun | None:
    """The job's last run record; None when there is none (never run, run by an older
    version) or it is damaged."""
    path = job_dir / RECORD_FILE
    try:
        return LastRun.model_validate_json(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


class RunRecord:
    """One job's record of the run in progress. ``RunRecord.off()`` records nothing."""

    def __init__(self, job_dir: Path | None, options: dict[str, Any] | None = None) -> None:
        self.path = job_dir / RECORD_FILE if job_dir is not None else None
        self.run = LastRun(started_at=utc_now(), options=options or {})
        self._clock: dict[str, float] = {}
        self._save()

    @classmethod
    def off(cls) -> RunRecord:
        return cls(None)

    def _save(self) -> None:
        if self.path is not None:
            atomic.write_text(self.path, self.run.model_dump_json(indent=2) + "\n")

    def decided(self, key: str, action: str, reasons: list[str], *,
                restored: bool = False) -> None:
        """The runner's decision: "run" (the stage starts next) or "skip"."""
        self.run.stages[key] = StageEntry(
            state="running" if action == "run" else "skipped", reasons=list(reasons),
            restored=restored, decided_at=utc_now())
        self._save()

    def started(self, key: str) -> None:
        self._clock[key] = time.monotonic()
        self.run.stages[key].started_at = utc_now()
        self._save()

    def on_node(self, key: str, node: str) -> None:
        """The stage's process started on ``node`` (a batch's --status shows it)."""
        if key in self.run.stages:
            self.run.stages[key].node = node
            self._save()

    def ended(self, key: str, error: PipelineError | None) -> None:
        """The stage process is over: ran, or failed with ``error``. Once per start: the
        runner ends each job's stage as its outcome arrives (a Ray part ends before the
        others of its group), then any left when the group is over."""
        entry = self.run.stages[key]
        if key not in self._clock and entry.finished_at is not None:
            return
        entry.finished_at = utc_now()
        if key in self._clock:
            entry.wall_s = round(time.monotonic() - self._clock.pop(key), 3)
        entry.state = "ran" if error is None else "failed"
        if error is not None:  # a stage's own error may end with its fix: kept apart
            reason = getattr(error, "reason", None) or error.message
            message, _, fix = reason.partition("\n  fix: ")
            entry.error, entry.fix = message.strip(), fix.strip() or error.fix
        self._save()

    def cannot_start(self, key: str, error: PipelineError) -> None:
        """A stage that failed before any process started (its inputs, its venv)."""
        self.run.stages[key] = StageEntry(state="failed", error=error.message, fix=error.fix,
                                          decided_at=utc_now())
        self._save()

    def close(self) -> None:
        """The run is over (or interrupted): a stage still running never ended."""
        for entry in self.run.stages.values():
            if entry.state == "running":
                entry.state = "interrupted"
        self.run.finished_at = utc_now()
        self._save()
