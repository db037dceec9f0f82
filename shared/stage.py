"""The stage contract.

A stage module in stages/ declares, as data, what the runner needs (``SPEC``), and defines:

    def process(request: StageRequest, state) -> StageOutcome   # one job, in the stage's venv
    def setup(requests: list[StageRequest]) -> state              # optional: load models once
    def resolve(params, ctx: ResolveContext) -> params            # optional: runs in the runner

Heavy imports happen only inside ``setup``/``process``, so the contract imports in the
common venv. Stages talk only through files: the runner writes ``request.json`` into the
stage folder, the stage writes its outputs (atomically) and ``result.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared import atomic

REQUEST_FILE = "request.json"
RESULT_FILE = "result.json"
PROGRESS_PREFIX = "@@progress "


class StageParams(BaseModel):
    """Base of every stage's Params: every field has its default here, unknown keys fail."""

    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=StageParams)


class ModelRef(BaseModel):
    """A model a stage loads: registry name, hub repo, and the revision the cache holds."""

    name: str
    repo_id: str | None = None
    revision: str | None = None


class StageRequest(BaseModel):
    """Everything a stage process needs for one job (written by the runner)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    job_id: str
    job_dir: Path
    stage: str
    key: str
    lang: str | None = None
    stage_dir: Path
    deliverables_dir: Path
    title: str
    media: Path
    params: dict[str, Any]
    inputs: dict[str, Path]
    models: list[ModelRef] = Field(default_factory=list)
    # the runner's fingerprint of this stage run (params, models, inputs, code): a stage that
    # checkpoints inside itself resumes only a checkpoint written under the same one
    fingerprint: str | None = None

    def params_as(self, model: type[P]) -> P:
        return model.model_validate(self.params)

    def output(self, name: str) -> Path:
        return self.stage_dir / name


class StageResult(BaseModel):
    """What a stage reports for one job (written by the stage as result.json)."""

    status: str  # "ok" | "failed"
    outputs: list[str] = Field(default_factory=list)  # paths relative to the job folder
    info: dict[str, Any] = Field(default_factory=dict)
    # what this run delivered short of what the user or the profile asked for, one sentence
    # each ("translation:hi: the LLM failed, the NMT draft was kept"): the job ends degraded
    degraded: list[str] = Field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class StageOutcome:
    """Returned by ``process``: the files it wrote and anything worth recording."""

    outputs: list[Path]
    info: dict[str, Any] = field(default_factory=dict)
    # short of what was asked, one sentence each with its fix: the job ends "degraded"
    # (exit 3) instead of "ok", and the end table and --status say why
    degraded: list[str] = field(default_factory=list)


@dataclass
class ResolveContext:
    """What ``resolve`` may consult, in the runner (common venv)."""

    hardware: Any  # shared.hardware_cache.HardwareCache
    models: Any  # shared.model_registry.ModelRegistry
    job: Any  # shared.job.Job
    profile: str
    lang: str | None


@dataclass(frozen=True)
class StageSpec(Generic[P]):
    name: str
    environment: str
    version: int
    params: type[P]
    # input name -> "<stage>:<file>" or "job:media"; a tuple lists alternatives (the first
    # whose stage is in the job wins); a trailing "?" marks an input the job may not have
    inputs: dict[str, str | tuple[str, ...]]
    outputs: tuple[str, ...]  # files every successful run leaves in its stage folder
    description: str = ""
    code: tuple[str, ...] = ()  # other modules whose source shapes the outputs (fingerprinted)
    environment_for: Callable[[P], str] | None = None

    def env_for(self, params: P) -> str:
        return self.environment_for(params) if self.environment_for else self.environment


def report_progress(done: float, total: float, note: str = "") -> None:
    """Tell the runner how far this stage is (shown as a progress bar, not logged)."""
    import sys

    sys.stdout.write(PROGRESS_PREFIX + json.dumps({"done": done, "total": total, "note": note})
                     + "\n")
    sys.stdout.flush()


def load_request(stage_dir: Path) -> StageRequest:
    return StageRequest.model_validate_json((stage_dir / REQUEST_FILE).read_text("utf-8"))


def write_result(stage_dir: Path, result: StageResult) -> None:
    atomic.write_text(stage_dir / RESULT_FILE, result.model_dump_json(indent=2) + "\n")


def relative_outputs(request: StageRequest, outputs: list[Path]) -> list[str]:
    job_dir = request.job_dir.resolve()
    return [Path(p).resolve().relative_to(job_dir).as_posix() for p in outputs]

