"""Reading a job folder for the report: a stage instance's files by key, JSON that may be
missing or damaged (a failed or unfinished job still gets a report), and the last run's
decisions from logs/pipeline.log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from shared import job as jobs

# "2026-12-03 04:50:01 asr: run (no previous run)" / "...: skip (up to date)" /
# "...: done in 3.2s" / "...: FAILED: reason (log: ...)" / "...: cannot start: ..."
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?P<key>[\w:.-]+): (?P<what>.*)$")


def read_json(path: Path | None) -> Any:
    """The file's JSON, or None when it is missing or not JSON."""
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


class JobFiles:
    """Where a job's stage outputs are, by stage instance key ("asr", "subtitles:en")."""

    def __init__(self, job_dir: Path, job: jobs.Job):
        self.job_dir = job_dir
        self.job = job
        self.dirs = {i.key: job_dir / i.dir for i in job.stages}

    def path(self, key: str, name: str) -> Path | None:
        folder = self.dirs.get(key)
        return folder / name if folder is not None else None

    def json(self, key: str, name: str) -> Any:
        return read_json(self.path(key, name))

    def keys(self, stage: str) -> list[str]:
        """The instance keys of one stage, in job order."""
        return [i.key for i in self.job.stages if i.stage == stage]

    def relative(self, path: Path) -> str:
        return path.relative_to(self.job_dir).as_posix()


def last_run_decisions(log: Path) -> dict[str, dict[str, str]]:
    """key -> {"action": run/skip/failed/cannot start, "reason": ...} for each stage the
    last run of pipeline.log decided about (a new run begins where a stage already decided
    about is decided again, unless it re-runs to remake a pruned input in the same run)."""
    if not log.is_file():
        return {}
    decisions: dict[str, dict[str, str]] = {}
    for line in log.read_text("utf-8", errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        key, what = match["key"], match["what"]
        for action in ("run", "skip"):
            if what.startswith(action + " ("):
                again = key in decisions and decisions[key].get("final")
                if again and not what.startswith("run (re-run: "):  # (a pruned input remade)
                    decisions = {}  # this key decided again: a new run began
                decisions[key] = {"action": "ran" if action == "run" else "skipped",
                                  "reason": what[len(action) + 2:].removesuffix(")"), "final": "1"}
        if what.startswith("FAILED: "):
            decisions.setdefault(key, {})["action"] = "failed"
            decisions[key]["reason"] = what[len("FAILED: "):]
        elif what.startswith("cannot start: "):
            decisions = {k: v for k, v in decisions.items() if k != key}
            decisions[key] = {"action": "failed", "reason": what[len("cannot start: "):]}
    return decisions
