"""A job: one media file, one request, one folder under the jobs root.

    out/<job-id>/job.json   the request, validated and schema-versioned (this module)
    out/<job-id>/lock.json  what ran, with fingerprints and output hashes (shared.lockfile)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared import atomic
from shared.config_files import format_validation_error
from shared.errors import ConfigError, InputError
from shared.workflows import StageInstance

SCHEMA_VERSION = 2  # 2: environments per stage instance (1: stage_environments)
JOB_FILE = "job.json"
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class MediaRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path  # absolute
    sha256: str
    size: int
    duration: float | None = None
    has_video: bool = False
    audio_streams: int = 0


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    job_id: str
    created_at: str
    workflow: str
    media: MediaRef
    title: str
    year: int | None = None
    source_lang: str  # ISO code or "auto"
    target_langs: list[str] = Field(default_factory=list)
    start_time: float | None = None
    end_time: float | None = None
    profile: str | None = None  # None: the profile bootstrap chose for this machine
    features: list[str] = Field(default_factory=list)  # optional steps: separation, vad, llm
    glossary: str | None = None  # the job's glossary TSV, copied into the job folder
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stages: list[StageInstance]
    # stage instance ("asr", "translation:hi") -> the venv the runner's plan runs it in
    environments: dict[str, str] = Field(default_factory=dict)
    # the batch id one prepare-job.sh call gave all its jobs (several media or a folder;
    # None for a single job): run-pipeline.sh --batch ID selects them
    batch: str | None = None

    def file(self, name: str, job_dir: Path) -> Path | None:
        """A job-level input ("job:media", "job:glossary"); None if this job has none."""
        if name == "media":
            return self.media.path
        if name == "glossary":
            return job_dir / self.glossary if self.glossary else None
        raise ConfigError(f"unknown job input 'job:{name}'", fix="use job:media or job:glossary")

    def instance(self, key: str) -> StageInstance:
        for inst in self.stages:
            if inst.key == key:
                return inst
        raise InputError(f"job {self.job_id} has no stage '{key}'",
                         fix=f"use one of: {', '.join(i.key for i in self.stages)}")


def slugify(text: str, limit: int = 40) -> str:
    """An ASCII, path-safe slug ('Mughal-e-Azam (1960)' -> 'Mughal-e-Azam-1960')."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")
    return slug[:limit].strip("-")


def new_job_id(title: str) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{slugify(title) or 'media'}-{stamp}-{secrets.token_hex(2)}"


def validate_job_id(job_id: str) -> str:
    if not JOB_ID_PATTERN.match(job_id) or ".." in job_id:
        raise InputError(f"'{job_id}' is not a valid job id",
                         fix="use the id prepare-job printed (letters, digits, '.', '_', '-')")
    return job_id


def create_job_dir(jobs_root: Path, job_id: str) -> Path:
    """Make the job folder; never reuse an existing one."""
    validate_job_id(job_id)
    try:
        jobs_root.mkdir(parents=True, exist_ok=True)
        probe = jobs_root / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise InputError(f"cannot write to the jobs folder {jobs_root}: {e.strerror}",
                         fix="choose a writable folder with --out DIR") from e
    job_dir = jobs_root / job_id
    try:
        job_dir.mkdir()
    except FileExistsError:
        raise InputError(f"{job_dir} already exists; a job folder is never overwritten",
                         fix="run prepare-job again (it makes a new id)") from None
    return job_dir


def save(job: Job, job_dir: Path) -> None:
    atomic.write_text(job_dir / JOB_FILE, job.model_dump_json(indent=2) + "\n")


def load(job_dir: Path) -> Job:
    path = job_dir / JOB_FILE
    if not path.is_file():
        raise InputError(f"{job_dir} is not a job folder (no {JOB_FILE})",
                         fix="prepare one with ./prepare-job.sh --media FILE")
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})",
                          fix=f"undo the edit to {path}, or prepare the job again") from e
    if isinstance(data, dict) and data.get("schema_version") == 1:
        data = _from_version_1(data)
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{path} has schema_version {data.get('schema_version')!r}; "
                          f"this version reads {SCHEMA_VERSION}",
                          fix="prepare the job again with ./prepare-job.sh")
    try:
        return Job.model_validate(data)
    except Exception as e:  # pydantic.ValidationError
        detail = format_validation_error(e) if hasattr(e, "errors") else str(e)
        raise ConfigError(f"{path} is invalid:\n{detail}",
                          fix=f"undo the edit to {path}, or prepare the job again") from e


def _from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept one venv per stage name; the next run's plan records each instance's."""
    data = {k: v for k, v in data.items() if k != "stage_environments"}
    return {**data, "schema_version": SCHEMA_VERSION, "environments": {}}


def find_job(jobs_root: Path, ref: str) -> Path:
    """A job folder from an id (under ``jobs_root``) or a path to the folder."""
    candidate = Path(ref)
    if (candidate / JOB_FILE).is_file() and (os.sep in ref or "/" in ref):
        return candidate.resolve()
    validate_job_id(ref)
    job_dir = jobs_root / ref
    if not (job_dir / JOB_FILE).is_file():
        raise InputError(f"no job '{ref}' in {jobs_root}",
                         fix="list jobs with ./run-pipeline.sh --status, or pass --out DIR")
    return job_dir.resolve()


def latest_job(jobs_root: Path) -> Path:
    jobs = [p.parent for p in jobs_root.glob(f"*/{JOB_FILE}")]
    if not jobs:
        raise InputError(f"no jobs in {jobs_root}", fix="prepare one with ./prepare-job.sh")
    return max(jobs, key=lambda d: (d / JOB_FILE).stat().st_mtime_ns).resolve()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
