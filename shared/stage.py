"""The stage contract: one ``SPEC`` object per stage holds everything the runner needs.

    SPEC = StageSpec(
        name="asr", version=1, params=AsrParams,            # data
        inputs={...}, outputs=(...),
        environments=("whisperx", "mlx"),                    # every venv it may run in
        choose_environment=lambda params, ctx: ...,          # optional: which one (else the first)
        resolve=resolve,                                     # optional: params -> params (runner)
        models=model_refs,                                   # optional: the models it loads
        process="stages.asr.decode:process",                 # one job, in the stage's venv
        setup="stages.asr.decode:setup",                     # optional: load models once
    )

``resolve``, ``models`` and ``environment`` run in the runner (common venv); ``process`` and
``setup`` are named, not imported, so the contract imports in the common venv and heavy
imports happen only in the stage's venv (``python -m shared.stage_main stages.<name>``).
Stages talk only through files: the runner writes ``request.json`` into the stage folder,
the stage writes its outputs (atomically) and ``result.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared import atomic

if TYPE_CHECKING:
    from shared.hardware_cache import HardwareCache
    from shared.job import Job
    from shared.model_registry import ModelRegistry

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
    """What ``resolve``, ``models`` and ``environment`` may consult, in the runner."""

    hardware: HardwareCache
    models: ModelRegistry
    job: Job
    profile: str
    lang: str | None
    # registry models the nodes of a cluster offer (--executor ray: model:<name> resources)
    # -> the revision they advertise (None: not one): available though not cached here
    offered: dict[str, str | None] = field(default_factory=dict)


def _unchanged(params, ctx: ResolveContext):
    return params


def _no_models(params, ctx: ResolveContext) -> list[ModelRef]:
    return []


@dataclass(frozen=True)
class StageSpec(Generic[P]):
    """One stage's whole contract (see the module docstring)."""

    name: str
    version: int  # bump when the outputs change meaning: every job re-runs the stage
    params: type[P]
    # input name -> "<stage>:<file>" or "job:media"; a tuple lists alternatives (the first
    # whose stage is in the job wins); a trailing "?" marks an input the job may not have
    inputs: dict[str, str | tuple[str, ...]]
    outputs: tuple[str, ...]  # files every successful run leaves in its stage folder
    environments: tuple[str, ...]  # the venvs it may run in; the first is the default
    process: str  # "module:function": (StageRequest, state) -> StageOutcome, one job
    setup: str | None = None  # "module:function": (list[StageRequest]) -> state, once a batch
    resolve: Callable[[P, ResolveContext], P] = _unchanged  # fill what machine and job decide
    models: Callable[[P, ResolveContext], list[ModelRef]] = _no_models  # fingerprinted
    choose_environment: Callable[[P, ResolveContext], str] | None = None
    description: str = ""
    # modules outside the stage's package that the import statements do not show (imported
    # by name at run time); everything the package imports is fingerprinted by itself
    uses: tuple[str, ...] = ()
    # (params, seconds of audio, media bytes) -> bytes its outputs take, for the disk check
    # before a run (shared/disk_need.py); None: small files (JSON, subtitles) only
    disk_estimate: Callable[[P, float, int], float] | None = None
    # heavy libraries its functions import when they run: a warm process started ahead of the
    # stage's launch (shared/stage_worker.py) imports them while the stages before it run
    warm_imports: tuple[str, ...] = ()

    def environment(self, params: P, ctx: ResolveContext) -> str:
        """The venv this stage runs in for these (resolved) params."""
        env = self.choose_environment(params, ctx) if self.choose_environment \
            else self.environments[0]
        if env not in self.environments:
            raise ValueError(f"stage {self.name} chose environment {env!r}, which its SPEC "
                             f"does not list ({', '.join(self.environments)})")
        return env


def load_spec(stage: str) -> StageSpec:
    """The contract of ``stages.<stage>`` (imports only its light contract module)."""
    import importlib

    from shared.errors import InputError, PipelineError

    try:
        module = importlib.import_module(f"stages.{stage}")
    except ModuleNotFoundError as e:
        if e.name not in (f"stages.{stage}", "stages"):
            raise
        raise InputError(f"stage '{stage}' does not exist in this version",
                         fix="check config/workflows.toml against the stages/ folder") from e
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, StageSpec) or spec.name != stage:
        raise PipelineError(f"stages/{stage} declares no SPEC named '{stage}'",
                            fix="see 'Adding a stage' in shared/ARCHITECTURE.md")
    return spec


def load_callable(reference: str) -> Callable:
    """"package.module:function" -> the function (imported now, in the stage's venv)."""
    import importlib

    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


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

