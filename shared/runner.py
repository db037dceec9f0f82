"""The runner: plans each job's stages, decides run or skip (and says why), starts stage
processes through the executor, and records successes in lock.json.

All decisions live here; stages are idempotent processes that read request.json and write
their outputs. A batch runs each stage once for all its jobs (one model load per batch),
while every job keeps its own lock entries.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import os
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from shared import atomic, fingerprint, job_state, lockfile
from shared import job as jobs
from shared.config_files import format_validation_error, load_toml
from shared.display import Display, PlainDisplay
from shared.env_registry import EnvironmentRegistry, load_registry
from shared.environment_manager import EnvironmentManager
from shared.errors import InputError, PipelineError, PreflightError, StageFailedError
from shared.executors import Executor, Launch, make_executor
from shared.file_hashes import HashMemo
from shared.hardware_cache import HardwareCache
from shared.model_registry import ModelRegistry, load_models
from shared.paths import CONFIG_DIR
from shared.stage import (
    REQUEST_FILE,
    RESULT_FILE,
    ResolveContext,
    StageRequest,
    StageResult,
    StageSpec,
)
from shared.workflows import StageInstance

logger = logging.getLogger(__name__)

FORCE_ALL = "*"
HASH_MEMO = ".hashes.json"


@dataclass
class RunOptions:
    from_stage: str | None = None
    to_stage: str | None = None
    only: list[str] = field(default_factory=list)
    force: list[str] = field(default_factory=list)  # stage names/keys, or ["*"] for all
    dry_run: bool = False


@dataclass
class StagePlan:
    key: str
    stage: str
    env: str
    spec: StageSpec
    params: Any
    inputs: dict[str, Path]
    models: list
    components: dict[str, Any] | None
    fingerprint: str | None
    action: str  # "run" | "skip"
    reasons: list[str]


@dataclass
class JobRun:
    job: jobs.Job
    job_dir: Path
    memo: HashMemo
    selected: list[str]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    planned: dict[str, StagePlan] = field(default_factory=dict)
    error: PipelineError | None = None

    @property
    def log_path(self) -> Path:
        return self.job_dir / "logs" / "pipeline.log"

    @property
    def degraded(self) -> list[str]:
        return job_state.degradations(self.job, self.job_dir)

    @property
    def state(self) -> str:
        return job_state.state_of(self.error is not None, self.degraded)

    def log(self, message: str) -> None:
        path = self.log_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


@dataclass
class RunReport:
    jobs: list[JobRun]

    @property
    def exit_code(self) -> int:
        return job_state.batch_exit_code([j.state for j in self.jobs])


def load_stage_module(stage: str) -> ModuleType:
    try:
        module = importlib.import_module(f"stages.{stage}")
    except ModuleNotFoundError as e:
        raise InputError(f"stage '{stage}' does not exist in this version",
                         fix="check config/workflows.toml against the stages/ folder") from e
    if not isinstance(getattr(module, "SPEC", None), StageSpec):
        raise PipelineError(f"stages/{stage}.py declares no SPEC")
    return module


def source_hash(module: ModuleType) -> str:
    """sha256 over the stage module's source and the modules its SPEC.code names."""
    digest = hashlib.sha256(Path(inspect.getfile(module)).read_bytes())
    for name in module.SPEC.code:
        digest.update(Path(inspect.getfile(importlib.import_module(name))).read_bytes())
    return digest.hexdigest()


def log_name(key: str) -> str:
    return key.replace(":", "_") + ".log"


def stage_timeouts() -> tuple[float, dict[str, float]]:
    data = load_toml(CONFIG_DIR / "pipeline.toml").get("runner", {})
    return (float(data.get("stage_timeout_s", 43200)),
            {k: float(v) for k, v in data.get("stage_timeout_overrides", {}).items()})


def select_keys(job: jobs.Job, options: RunOptions) -> list[str]:
    """The instance keys of ``job`` that --from/--to/--only leave in the run."""
    keys = [i.key for i in job.stages]
    names = [i.stage for i in job.stages]

    def positions(ref: str) -> list[int]:
        found = [n for n, (k, s) in enumerate(zip(keys, names, strict=True)) if ref in (k, s)]
        if not found:
            raise InputError(f"no stage '{ref}' in job {job.job_id}",
                             fix=f"use one of: {', '.join(dict.fromkeys(names + keys))}")
        return found

    start = positions(options.from_stage)[0] if options.from_stage else 0
    end = positions(options.to_stage)[-1] if options.to_stage else len(keys) - 1
    chosen = set(range(start, end + 1))
    if options.only:
        chosen &= {p for ref in options.only for p in positions(ref)}
    for ref in options.force:
        if ref != FORCE_ALL:
            positions(ref)  # validate
    return [k for n, k in enumerate(keys) if n in chosen]


class Runner:
    def __init__(self, hardware: HardwareCache, *, manager: EnvironmentManager | None = None,
                 display: Display | None = None, models: ModelRegistry | None = None,
                 registry: EnvironmentRegistry | None = None, log_level: str = "INFO",
                 executor: Executor | None = None) -> None:
        self.hardware = hardware
        self.registry = registry or load_registry()
        self.manager = manager or EnvironmentManager(hardware, self.registry)
        self.executor = executor or make_executor("local", self.manager)
        self.display = display or PlainDisplay()
        self.models = models or load_models()
        self.log_level = log_level
        self.default_timeout, self.timeouts = stage_timeouts()

    # -- public ------------------------------------------------------------------------
    def run(self, job_dirs: Iterable[Path], options: RunOptions) -> RunReport:
        job_runs = []
        for job_dir in job_dirs:
            job = jobs.load(job_dir)
            job_runs.append(JobRun(job=job, job_dir=job_dir,
                                   memo=HashMemo(job_dir / HASH_MEMO),
                                   selected=select_keys(job, options)))
        problems = self.preflight(job_runs)
        if problems and not options.dry_run:
            for jr in job_runs:
                jr.log(f"nothing run: {len(problems)} problem(s) found before the first stage")
            raise PreflightError(problems)
        with ExitStack() as stack:
            if not options.dry_run:
                for jr in job_runs:
                    stack.enter_context(lockfile.hold(jr.job_dir))
            order = list(dict.fromkeys(i.key for jr in job_runs for i in jr.job.stages))
            self.display.begin([(jr.job.job_id, len(jr.selected)) for jr in job_runs],
                               options.dry_run)
            try:
                for key in order:
                    self._run_key(key, job_runs, options)
            finally:
                for jr in job_runs:
                    jr.memo.save()
                self.display.end()
        if problems:  # a dry run shows the plan, then every problem it found
            raise PreflightError(problems)
        return RunReport(job_runs)

    # -- one stage instance across the batch ------------------------------------------
    def _run_key(self, key: str, job_runs: list[JobRun], options: RunOptions) -> None:
        to_run: list[tuple[JobRun, StagePlan]] = []
        for jr in job_runs:
            if jr.error is not None or key not in jr.selected:
                continue
            try:
                plan = self._plan(jr, key, options)
                if plan.action == "run":
                    plan = self._restore_pruned(jr, plan, options)
            except PipelineError as e:
                jr.error = e
                jr.log(f"{key}: cannot start: {e}")
                self.display.failed(jr.job.job_id, key, str(e))
                continue
            if plan is None:  # a stage re-run to make its pruned inputs again failed
                continue
            jr.planned[key] = plan
            self.display.decision(jr.job.job_id, key, plan.action, plan.reasons)
            if options.dry_run:
                continue
            jr.log(f"{key}: {plan.action} ({'; '.join(plan.reasons)})")
            if plan.action == "skip":
                jr.skipped.append(key)
            else:
                to_run.append((jr, plan))
        by_env: dict[str, list[tuple[JobRun, StagePlan]]] = {}
        for jr, plan in to_run:
            by_env.setdefault(plan.env, []).append((jr, plan))
        for env, group in by_env.items():
            self._execute(key, env, group)

    def _resolve(self, jr: JobRun, key: str) -> tuple[ModuleType, Any, str, list]:
        """The stage module, its resolved params, its environment and its models (raises
        what a user must fix: bad overrides, a model not cached, ...)."""
        job, instance = jr.job, jr.job.instance(key)
        module = load_stage_module(instance.stage)
        spec: StageSpec = module.SPEC
        try:
            params = spec.params.model_validate(job.overrides.get(spec.name, {}))
        except ValidationError as e:
            raise InputError(f"job {job.job_id}: invalid overrides for {spec.name}:\n"
                             f"{format_validation_error(e)}",
                             fix="prepare the job again with valid --set values") from e
        ctx = ResolveContext(hardware=self.hardware, models=self.models, job=job,
                             profile=job.profile or self.hardware.defaults.profile,
                             lang=instance.lang)
        if hasattr(module, "resolve"):
            params = module.resolve(params, ctx)
        env = spec.env_for(params)
        models = module.model_refs(params, ctx) if hasattr(module, "model_refs") else []
        return module, params, env, models

    # -- the check before anything runs -------------------------------------------------
    def preflight(self, job_runs: list[JobRun]) -> list[tuple[list[str], PipelineError]]:
        """Every problem of every selected stage of every job, found before any stage runs:
        params, the stage's environment, its models (cached and complete), and its inputs
        (present, or made by a stage that runs before it). Equal problems are grouped."""
        found: dict[tuple[str, str], tuple[list[str], PipelineError]] = {}
        for jr in job_runs:
            for key in jr.selected:
                try:
                    self._check(jr, key)
                except PipelineError as e:
                    where, _ = found.setdefault((type(e).__name__, str(e)), ([], e))
                    where.append(f"job {jr.job.job_id} {key}")
        return list(found.values())

    def _check(self, jr: JobRun, key: str) -> None:
        module, params, env, _models = self._resolve(jr, key)
        self.executor.check_ready(env)
        instance = jr.job.instance(key)
        refs, inputs = self._inputs(jr, instance, module.SPEC)
        position = {i.key: n for n, i in enumerate(jr.job.stages)}
        pruned = lockfile.pruned_outputs(jr.job_dir)
        for name, path in inputs.items():
            if path.exists() or path.resolve() in pruned:  # a pruned one is made again
                continue
            maker = self._maker(jr, path)
            if maker is None:
                raise InputError(f"{path} ({refs[name]}) does not exist",
                                 fix="restore the file, or prepare the job again")
            if maker not in jr.selected or position[maker] >= position[key]:
                raise InputError(
                    f"needs {refs[name]}, which does not exist yet and {maker} is not part "
                    "of this run", fix=f"run the earlier stages too: ./run-pipeline.sh -j "
                    f"{jr.job.job_id} (without --only/--from)")

    def _plan(self, jr: JobRun, key: str, options: RunOptions) -> StagePlan:
        job, instance = jr.job, jr.job.instance(key)
        module, params, env, models = self._resolve(jr, key)
        spec: StageSpec = module.SPEC
        refs, inputs = self._inputs(jr, instance, spec)
        pruned = lockfile.pruned_outputs(jr.job_dir)
        missing = [n for n, p in inputs.items() if not p.exists() and p.resolve() not in pruned]
        if missing:
            upstream = {refs[n].split(":")[0] for n in missing}
            if options.dry_run and any(p.stage in upstream for p in jr.planned.values()):
                return StagePlan(key, spec.name, env, spec, params, inputs, models, None, None,
                                 "run", [f"after {', '.join(sorted(upstream))} runs"])
            raise InputError(
                f"stage {key} of job {job.job_id} needs "
                f"{', '.join(refs[n] for n in missing)}, which does not exist yet",
                fix=f"run the earlier stages first: ./run-pipeline.sh -j {job.job_id}")
        components = {
            "stage": f"{spec.name}@{spec.version}",
            "source": source_hash(module),
            "environment": f"{env}:{self.registry.get(env).lock_hash()[:16]}",
            "params": params.model_dump(mode="json"),
            "models": {m.name: f"{m.repo_id}@{m.revision}" for m in models},
            "inputs": {name: pruned[path.resolve()].sha256 if not path.exists()
                       else jr.memo.sha256(path) for name, path in inputs.items()},
            "context": {"title": job.title, "lang": instance.lang},
        }
        digest = fingerprint.digest(components)
        action, reasons = self._decide(jr, key, spec.name, digest, components, options)
        if options.dry_run and action == "skip":
            upstream = {ref.split(":")[0] for ref in refs.values()}
            reruns = sorted(p.key for p in jr.planned.values()
                            if p.stage in upstream and p.action == "run")
            if reruns:
                action, reasons = "run", [f"if {', '.join(reruns)} changes its outputs"]
        return StagePlan(key, spec.name, env, spec, params, inputs, models, components, digest,
                         action, reasons)

    def _decide(self, jr: JobRun, key: str, stage: str, digest: str,
                components: dict[str, Any], options: RunOptions) -> tuple[str, list[str]]:
        if FORCE_ALL in options.force or key in options.force or stage in options.force:
            return "run", ["forced"]
        record = lockfile.load(jr.job_dir).stages.get(key)
        if record is None:
            return "run", ["not run before"]
        if record.fingerprint != digest:
            return "run", fingerprint.explain(record.components, components)
        for output in record.outputs:
            path = jr.job_dir / output.path
            if output.pruned and not path.exists():
                continue  # removed by --prune: made again only when a stage needs it
            if not path.is_file():
                return "run", [f"output {output.path} missing"]
            if jr.memo.sha256(path) != output.sha256:
                return "run", [f"output {output.path} modified"]
        return "skip", ["up to date"]

    # -- pruned intermediates ------------------------------------------------------------
    @staticmethod
    def _maker(jr: JobRun, path: Path) -> str | None:
        """The key of the stage instance of this job whose folder holds ``path``."""
        path = path.resolve()
        return next((i.key for i in jr.job.stages
                     if path.is_relative_to((jr.job_dir / i.dir).resolve())), None)

    def _restore_pruned(self, jr: JobRun, plan: StagePlan, options: RunOptions
                        ) -> StagePlan | None:
        """A stage that must run and reads outputs --prune removed: re-run each stage that
        made one first (itself after its own pruned inputs), saying why, then plan it again
        on the files made anew; None if such a re-run failed. A dry run only says so."""
        pruned = lockfile.pruned_outputs(jr.job_dir)
        gone = [p for p in plan.inputs.values() if not p.exists() and p.resolve() in pruned]
        if not gone:
            return plan
        order = [i.key for i in jr.job.stages]
        makers: dict[str, Path] = {}
        for path in gone:
            maker = self._maker(jr, path)
            assert maker is not None, path  # --prune removes only files in stage folders
            makers.setdefault(maker, path)
        if options.dry_run:
            plan.reasons.append(f"after re-running {', '.join(sorted(makers, key=order.index))}"
                                " (pruned inputs)")
            return plan
        for maker in sorted(makers, key=order.index):
            rel = makers[maker].relative_to(jr.job_dir).as_posix()
            if not self._rerun(jr, maker, f"re-run: {rel} was pruned and {plan.key} needs it",
                               options):
                return None
        return self._plan(jr, plan.key, options)

    def _rerun(self, jr: JobRun, key: str, reason: str, options: RunOptions) -> bool:
        """Run one stage instance of one job again, out of the batch, for ``reason``;
        False if it failed (jr.error says why)."""
        plan = self._restore_pruned(jr, self._plan(jr, key, options), options)
        if plan is None:
            return False
        plan.action, plan.reasons = "run", [reason]
        self.display.decision(jr.job.job_id, key, plan.action, plan.reasons)
        jr.log(f"{key}: run ({reason})")
        if key in jr.skipped:
            jr.skipped.remove(key)
        self._execute(key, plan.env, [(jr, plan)])
        return jr.error is None

    def _inputs(self, jr: JobRun, consumer: StageInstance, spec: StageSpec
                ) -> tuple[dict[str, str], dict[str, Path]]:
        """Each input's reference and path for this instance. For every input the first
        alternative this job produces wins. A per-language producer counts only in the same
        language (subtitles:en reads translation:en); a reference ending in "*" takes every
        instance of its stage, as inputs "<name>:<lang>"; "?" marks an optional input."""
        refs: dict[str, str] = {}
        inputs: dict[str, Path] = {}
        for name, alternatives in spec.inputs.items():
            options = (alternatives,) if isinstance(alternatives, str) else alternatives
            for ref in options:
                found = self._producers(jr, consumer, ref.rstrip("?"))
                if found is None:
                    continue
                for lang, path in found:
                    input_name = name if lang is None else f"{name}:{lang}"
                    refs[input_name], inputs[input_name] = ref.rstrip("?*"), path
                break
            else:
                if not all(ref.endswith("?") for ref in options):
                    raise PipelineError(
                        f"job {jr.job.job_id} has no stage producing {' or '.join(options)}",
                        fix="check the workflow in config/workflows.toml")
        return refs, inputs

    @staticmethod
    def _producers(jr: JobRun, consumer: StageInstance, ref: str
                   ) -> list[tuple[str | None, Path]] | None:
        """(language or None, path) for each file ``ref`` names in this job; None if the job
        has no producer for it."""
        every = ref.endswith("*")
        source, _, name = ref.rstrip("*").partition(":")
        if source == "job":
            path = jr.job.file(name, jr.job_dir)
            return None if path is None else [(None, path)]
        producers = [i for i in jr.job.stages if i.stage == source]
        if not every and any(i.lang is not None for i in producers):
            producers = [i for i in producers if i.lang == consumer.lang]
        if not producers:
            return None
        return [(i.lang if every else None, jr.job_dir / i.dir / name) for i in producers]

    # -- running a stage process --------------------------------------------------------
    def _execute(self, key: str, env: str, group: list[tuple[JobRun, StagePlan]]) -> None:
        stage = group[0][1].stage
        started_at = jobs.utc_now()
        for jr, plan in group:
            instance = jr.job.instance(key)
            stage_dir = jr.job_dir / instance.dir
            stage_dir.mkdir(parents=True, exist_ok=True)
            (stage_dir / RESULT_FILE).unlink(missing_ok=True)
            request = StageRequest(
                job_id=jr.job.job_id, job_dir=jr.job_dir, stage=stage, key=key,
                lang=instance.lang, stage_dir=stage_dir, deliverables_dir=jr.job_dir / "subtitles",
                title=jr.job.title, media=jr.job.media.path,
                params=plan.params.model_dump(mode="json"), inputs=plan.inputs,
                models=plan.models, fingerprint=plan.fingerprint)
            atomic.write_text(stage_dir / REQUEST_FILE, request.model_dump_json(indent=2) + "\n")
        log_paths = [jr.job_dir / "logs" / log_name(key) for jr, _ in group]
        job_ids = [jr.job.job_id for jr, _ in group]
        self.display.stage_started(job_ids, key)
        launch = Launch(key, stage, env, [jr.job_dir for jr, _ in group], log_paths,
                        self.timeouts.get(stage, self.default_timeout),
                        {"SUBPIPE_PARENT_PID": str(os.getpid()),
                         "SUBPIPE_LOG_LEVEL": self.log_level})
        for outcome in self.executor.run(launch, self.display.on_line):
            for index in outcome.indices:
                jr, plan = group[index]
                if outcome.error is not None:
                    jr.error = outcome.error
                    jr.log(f"{key}: cannot start on {outcome.node}: {outcome.error}")
                    self.display.failed(jr.job.job_id, key, str(outcome.error))
                    continue
                self._collect(jr, plan, key, env, outcome.result, log_paths[index], started_at,
                              outcome.node)

    def _collect(self, jr: JobRun, plan: StagePlan, key: str, env: str, result, log_path: Path,
                 started_at: str, node: str | None = None) -> None:
        stage_dir = jr.job_dir / jr.job.instance(key).dir
        outcome: StageResult | None = None
        if (stage_dir / RESULT_FILE).is_file():
            outcome = StageResult.model_validate_json((stage_dir / RESULT_FILE).read_text("utf-8"))
        reason = None
        if result.timed_out:
            reason = f"timed out after {self.timeouts.get(plan.stage, self.default_timeout):.0f}s"
        elif outcome is None:
            reason = f"the stage process exited with code {result.returncode} without a result"
        elif outcome.status != "ok":
            reason = outcome.error or "failed"
        else:
            missing = [o for o in plan.spec.outputs if not (stage_dir / o).is_file()]
            missing += [o for o in outcome.outputs if not (jr.job_dir / o).is_file()]
            if missing:
                reason = f"outputs missing after the run: {', '.join(missing)}"
        if reason is not None:
            tail = [line for line in result.tail if line.strip()][-12:]
            jr.error = StageFailedError(key, jr.job.job_id, log_path, tail, reason)
            jr.log(f"{key}: FAILED: {reason} (log: {log_path})")
            self.display.failed(jr.job.job_id, key, reason)
            return
        assert outcome is not None
        declared = [(stage_dir / o).relative_to(jr.job_dir).as_posix() for o in plan.spec.outputs]
        paths = list(dict.fromkeys(declared + outcome.outputs))
        records = []
        for rel in paths:
            path = jr.job_dir / rel
            records.append(lockfile.OutputRecord(path=rel, sha256=jr.memo.sha256(path),
                                                 size=path.stat().st_size))
        assert plan.fingerprint is not None and plan.components is not None
        lockfile.record(jr.job_dir, lockfile.StageRecord(
            key=key, stage=plan.stage, env=env, fingerprint=plan.fingerprint,
            components=plan.components, outputs=records, started_at=started_at,
            finished_at=jobs.utc_now(), duration_s=round(outcome.duration_s or
                                                         result.duration_s, 3),
            info=outcome.info, degraded=outcome.degraded, node=node))
        jr.memo.save()
        jr.ran.append(key)
        jr.log(f"{key}: done in {result.duration_s:.1f}s on {node}")
        self.display.stage_finished(jr.job.job_id, key, result.duration_s)
