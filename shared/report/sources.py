"""Reading a job folder for the report: a stage instance's files by key, and JSON that may be
missing or damaged (a failed or unfinished job still gets a report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared import job as jobs


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
