"""The runner: plans every selected stage of every job first (shared/plan.py), then walks
the plan: decides run or skip (shared/decide.py, and says why), starts stage processes, and
records successes in lock.json.

All decisions live here; stages are idempotent processes that read request.json and write
their outputs. A batch runs each stage once for all its jobs (one model load per batch),
while every job keeps its own lock entries.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import atomic, fingerprint, job_state, lockfile, progress
from shared import job as jobs
from shared.config_files import load_toml
from shared.decide import FORCE_ALL, components, decide
from shared.display import Display, PlainDisplay
from shared.env_registry import EnvironmentRegistry, load_registry
from shared.environment_manager import EnvironmentManager
from shared.errors import InputError, PipelineError, PreflightError, StageFailedError
from shared.executors import Executor, Launch, Needs, combined, make_executor
from shared.file_hashes import HashMemo
from shared.hardware_cache import HardwareCache
from shared.model_registry import ModelRegistry, load_models
from shared.paths import CONFIG_DIR
from shared.plan import PlannedStage, plan_jobs
from shared.prune import Remaker
from shared.run_record import RunRecord
from shared.stage import REQUEST_FILE, RESULT_FILE, StageRequest, StageResult, StageSpec

logger = logging.getLogger(__name__)

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
    needs: Needs


@dataclass
class JobRun:
    job: jobs.Job
    job_dir: Path
    memo: HashMemo
    selected: list[str]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    plan: dict[str, PlannedStage] = field(default_factory=dict)  # made before anything runs
    unplanned: dict[str, PipelineError] = field(default_factory=dict)  # why a key has none
    planned: dict[str, StagePlan] = field(default_factory=dict)  # decided, as the run walks
    expected: set[str] = field(default_factory=set)  # keys the plan expects to run (ETA)
    error: PipelineError | None = None
    record: RunRecord = field(default_factory=RunRecord.off)  # logs/last_run.json

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
        self.batch: list[JobRun] = []
        self.running: dict[str, dict[str, int]] = {}  # stage key -> node -> jobs running
        self.order: list[str] = []  # the run's stage keys in the order they run
        # stages that remake the pruned inputs a stage about to run reads (shared/prune.py)
        self.remaker = Remaker(self._decision, self._launch, self.display)

    # -- public ------------------------------------------------------------------------
    def run(self, job_dirs: Iterable[Path], options: RunOptions) -> RunReport:
        job_runs = []
        for job_dir in job_dirs:
            job = jobs.load(job_dir)
            job_runs.append(JobRun(job=job, job_dir=job_dir,
                                   memo=HashMemo(job_dir / HASH_MEMO),
                                   selected=select_keys(job, options)))
        problems = plan_jobs(job_runs, self.hardware, self.models, self.executor)
        self.batch = job_runs
        for jr in job_runs if len(job_runs) > 1 else []:  # a batch's ETA (_progress)
            jr.expected = self._expected_runs(jr, options)
        if problems and not options.dry_run:
            for jr in job_runs:
                jr.log(f"nothing run: {len(problems)} problem(s) found before the first stage")
            raise PreflightError(problems)
        with ExitStack() as stack:
            if not options.dry_run:
                for jr in job_runs:
                    stack.enter_context(lockfile.hold(jr.job_dir))
                    self._record_environments(jr)
                    jr.record = RunRecord(jr.job_dir, {
                        k: v for k, v in dataclasses.asdict(options).items() if v})
            order = self.order = list(dict.fromkeys(i.key for jr in job_runs
                                                    for i in jr.job.stages))
            self.display.begin([(jr.job.job_id, len(jr.selected)) for jr in job_runs],
                               options.dry_run)
            try:
                for key in order:
                    self._run_key(key, job_runs, options)
            finally:
                for jr in job_runs:
                    jr.memo.save()
                    jr.record.close()
                self.display.end()
        if problems:  # a dry run shows the plan, then every problem it found
            raise PreflightError(problems)
        return RunReport(job_runs)

    def _expected_runs(self, jr: JobRun, options: RunOptions) -> set[str]:
        """The selected keys the plan expects to run (the ETA counts only these): forced,
        not recorded, fingerprint changed, or reading what an expected stage makes; a
        recorded, unchanged stage will be skipped."""
        expected: set[str] = set()
        recorded = lockfile.load(jr.job_dir).stages
        for key in jr.selected:
            planned = jr.plan.get(key)
            upstream = {ref.split(":")[0] for ref in planned.refs.values()} if planned else set()
            record = recorded.get(key)
            if (planned is None or record is None or FORCE_ALL in options.force
                    or key in options.force or planned.spec.name in options.force
                    or any(jr.job.instance(k).stage in upstream for k in expected)):
                expected.add(key)
                continue
            try:
                parts = components(planned, jr.job, jr.job_dir, jr.memo, self.registry)
            except (PipelineError, OSError, KeyError):  # an input missing: it will run
                expected.add(key)
                continue
            if not fingerprint.matches(record.fingerprint, record.components, parts):
                expected.add(key)
        return expected

    @staticmethod
    def _record_environments(jr: JobRun) -> None:
        """job.json: the venv each planned stage instance runs in (under the run lock)."""
        planned = {key: p.env for key, p in jr.plan.items()}
        merged = {**jr.job.environments, **planned}
        if merged != jr.job.environments:
            jr.job = jr.job.model_copy(update={"environments": merged})
            jobs.save(jr.job, jr.job_dir)

    # -- one stage instance across the batch ------------------------------------------
    def _run_key(self, key: str, job_runs: list[JobRun], options: RunOptions) -> None:
        to_run: list[tuple[JobRun, StagePlan]] = []
        for jr in job_runs:
            if jr.error is not None or key not in jr.selected:
                continue
            try:
                if key in jr.unplanned:
                    raise jr.unplanned[key]
                plan = self._decision(jr, key, options)
                if plan.action == "run":
                    plan = self.remaker.restore(jr, plan, options)
            except PipelineError as e:
                jr.error = e
                jr.log(f"{key}: cannot start: {e}")
                jr.record.cannot_start(key, e)
                self.display.failed(jr.job.job_id, key, str(e))
                continue
            if plan is None:  # a stage re-run to make its pruned inputs again failed
                continue
            jr.planned[key] = plan
            self.display.decision(jr.job.job_id, key, plan.action, plan.reasons)
            if options.dry_run:
                continue
            jr.log(f"{key}: {plan.action} ({'; '.join(plan.reasons)})")
            jr.record.decided(key, plan.action, plan.reasons)
            if plan.action == "skip":
                jr.skipped.append(key)
            else:
                to_run.append((jr, plan))
        by_env: dict[str, list[tuple[JobRun, StagePlan]]] = {}
        for jr, plan in to_run:
            by_env.setdefault(plan.env, []).append((jr, plan))
        for env, group in by_env.items():
            self._launch(key, env, group)

    def _decision(self, jr: JobRun, key: str, options: RunOptions) -> StagePlan:
        """The planned stage with its fingerprint (its inputs exist now) and run or skip.
        A dry run cannot hash inputs an earlier stage has yet to make: it says so."""
        planned = jr.plan[key]
        spec = planned.spec
        pruned = lockfile.pruned_outputs(jr.job_dir)
        missing = [n for n, p in planned.inputs.items()
                   if not p.exists() and p.resolve() not in pruned]
        if missing:
            upstream = {planned.refs[n].split(":")[0] for n in missing}
            if options.dry_run and any(p.stage in upstream for p in jr.planned.values()):
                return self._stage_plan(planned, None, None, "run",
                                        [f"after {', '.join(sorted(upstream))} runs"])
            raise InputError(
                f"stage {key} of job {jr.job.job_id} needs "
                f"{', '.join(planned.refs[n] for n in missing)}, which does not exist yet",
                fix=f"run the earlier stages first: ./run-pipeline.sh -j {jr.job.job_id}")
        parts = components(planned, jr.job, jr.job_dir, jr.memo, self.registry)
        digest = fingerprint.digest(parts)
        action, reasons = decide(jr.job_dir, jr.memo, key, spec.name, digest, parts,
                                 options.force)
        if options.dry_run and action == "skip":
            upstream = {ref.split(":")[0] for ref in planned.refs.values()}
            reruns = sorted(p.key for p in jr.planned.values()
                            if p.stage in upstream and p.action == "run")
            if reruns:
                action, reasons = "run", [f"if {', '.join(reruns)} changes its outputs"]
        return self._stage_plan(planned, parts, digest, action, reasons)

    @staticmethod
    def _stage_plan(planned: PlannedStage, parts: dict[str, Any] | None, digest: str | None,
                    action: str, reasons: list[str]) -> StagePlan:
        return StagePlan(planned.key, planned.spec.name, planned.env, planned.spec,
                         planned.params, planned.inputs, planned.models, parts, digest,
                         action, reasons, planned.needs)

    def _launch(self, key: str, env: str, group: list[tuple[JobRun, StagePlan]]) -> None:
        """_execute, with each job's run record saying when the stage started and ended."""
        for jr, _ in group:
            jr.record.started(key)
        self._execute(key, env, group)
        for jr, _ in group:  # a job the executor gave no outcome for (ended is idempotent)
            jr.record.ended(key, jr.error)

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
                         "SUBPIPE_LOG_LEVEL": self.log_level},
                        combined([plan.needs for _, plan in group]),
                        self._next_elsewhere(key, env, [jr for jr, _ in group]))
        running = self.running.setdefault(key, {})

        def started(indices: list[int], node: str) -> None:
            running[node] = running.get(node, 0) + len(indices)
            for index in indices:  # --status names the node of a stage in progress
                group[index][0].record.on_node(key, node)
            self._progress()

        for outcome in self.executor.run(launch, self.display.on_line, started):
            running[outcome.node] = running.get(outcome.node, 0) - len(outcome.indices)
            if running[outcome.node] <= 0:
                del running[outcome.node]
            for index in outcome.indices:
                jr, plan = group[index]
                if outcome.error is not None:
                    jr.error = outcome.error
                    jr.log(f"{key}: cannot start on {outcome.node}: {outcome.error}")
                    self.display.failed(jr.job.job_id, key, str(outcome.error))
                else:
                    self._collect(jr, plan, key, env, outcome.result, log_paths[index],
                                  started_at, outcome.node)
                jr.record.ended(key, jr.error)  # as lock.json has it: not when the group ends
            self._progress()
        self.running.pop(key, None)

    def _next_elsewhere(self, key: str, env: str, job_runs: list[JobRun]
                        ) -> tuple[str, str] | None:
        """(stage, venv) of the first stage instance after ``key`` that these jobs plan in
        another venv than ``env``: what an executor may start ahead."""
        later = self.order[self.order.index(key) + 1:] if key in self.order else []
        for k in later:
            planned = [jr.plan[k] for jr in job_runs if k in jr.plan and k in jr.selected]
            if planned and planned[0].env != env:
                return planned[0].spec.name, planned[0].env
        return None

    def _progress(self) -> None:
        """The batch's progress line (a batch of several jobs): jobs done, what runs on
        which node, the ETA of the stages left at the RTFs the batch measured so far."""
        if len(self.batch) < 2:
            return
        left = {id(jr): [k for k in jr.selected if k not in jr.ran and k not in jr.skipped]
                for jr in self.batch if jr.error is None}
        done = len(self.batch) - sum(1 for keys in left.values() if keys)
        remaining = [(jr.job.instance(k).stage, jr.job.media.duration)  # what will run
                     for jr in self.batch for k in left.get(id(jr), [])
                     if k in jr.expected or self._decided_run(jr, k)]
        rtfs = progress.measured_rtfs((jr.job_dir, jr.job.media.duration) for jr in self.batch)
        eta = progress.eta_seconds(remaining, rtfs, self.executor.slots())
        self.display.progress(progress.line(done, len(self.batch), self.running, eta))

    @staticmethod
    def _decided_run(jr: JobRun, key: str) -> bool:
        return key in jr.planned and jr.planned[key].action == "run"

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
