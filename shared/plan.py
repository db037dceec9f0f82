"""The plan: for every selected stage of every job, before anything runs, its params (the
job's overrides, then ``resolve``), environment, models and inputs. Every problem found
here (bad overrides, a model not cached, a venv not built, an input nothing makes) is
reported at once, grouped across jobs, before the first stage starts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared import disk_need, lockfile
from shared.config_files import format_validation_error
from shared.errors import InputError, PipelineError
from shared.executors import Executor, Needs
from shared.hardware_cache import HardwareCache
from shared.job import Job
from shared.model_choice import LOCAL
from shared.model_registry import ModelRegistry
from shared.stage import ModelRef, ResolveContext, StageSpec, load_spec
from shared.stage_inputs import maker, stage_inputs

Problems = list[tuple[list[str], PipelineError]]

BASE_MEMORY_MB = 256  # a stage process before it loads a model
MODEL_MEMORY_FACTOR = 2  # a loaded model: about twice its download (weights + working set)


@dataclass
class PlannedStage:
    """One stage instance of one job, as it will run (inputs may not exist yet)."""

    key: str
    spec: StageSpec
    params: Any  # the stage's Params, resolved
    env: str
    models: list[ModelRef]
    refs: dict[str, str]  # input name -> "<stage>:<file>" it came from
    inputs: dict[str, Path]
    needs: Needs  # what the machine that runs it must offer


def resolve_context(job: Job, lang: str | None, hardware: HardwareCache,
                    models: ModelRegistry, offered: dict[str, str | None] | None = None
                    ) -> ResolveContext:
    return ResolveContext(hardware=hardware, models=models, job=job,
                          profile=job.profile or hardware.defaults.profile, lang=lang,
                          offered=offered or {})


def plan_stage(job: Job, job_dir: Path, key: str, hardware: HardwareCache,
               models: ModelRegistry, offered: dict[str, str | None] | None = None
               ) -> PlannedStage:
    """Params, resolve, environment, models and inputs of one stage instance (raises what a
    user must fix); ``offered``: the models the executor's nodes have (ResolveContext)."""
    instance = job.instance(key)
    spec = load_spec(instance.stage)
    try:
        params = spec.params.model_validate(job.overrides.get(spec.name, {}))
    except ValidationError as e:
        raise InputError(f"job {job.job_id}: invalid overrides for {spec.name}:\n"
                         f"{format_validation_error(e)}",
                         fix="prepare the job again with valid --set values") from e
    ctx = resolve_context(job, instance.lang, hardware, models, offered)
    # the CPU threads the job itself asks (0: none); resolve fills in this machine's default
    asked_threads = getattr(params, "cpu_threads", 0)
    params = spec.resolve(params, ctx)
    env = spec.environment(params, ctx)
    refs, inputs = stage_inputs(job, job_dir, instance, spec)
    refs_models = spec.models(params, ctx)
    needs = stage_needs(job_dir, key, spec.name, env, params, refs_models, models)
    return PlannedStage(key, spec, params, env, refs_models, refs, inputs,
                        replace(needs, cpus=asked_threads))


def stage_needs(job_dir: Path, key: str, stage: str, env: str, params: Any,
                refs: list[ModelRef], models: ModelRegistry) -> Needs:
    """What a node must offer to run the stage: its venv, the registry models it loads
    (`node start` advertises model:<name>), a GPU when its device is cuda, and memory: the
    peak this job's last run of the stage measured, else a base plus its models' size."""
    specs = [s for s in (models.by_repo_or_name(r.name) for r in refs if r.revision != LOCAL)
             if s is not None]
    record = lockfile.load(job_dir).stages.get(key)
    measured = record.info.get("peak_rss_mb") if record is not None and record.info else None
    estimate = BASE_MEMORY_MB + MODEL_MEMORY_FACTOR * sum(s.size_mb for s in specs)
    return Needs(stage, env, tuple(dict.fromkeys(s.name for s in specs)),
                 getattr(params, "device", None) == "cuda", int(measured or estimate))


def check_inputs(job: Job, job_dir: Path, selected: list[str], planned: PlannedStage) -> None:
    """Each input exists, was pruned (made again on demand), or is made by a stage of this
    run that comes before it."""
    position = {i.key: n for n, i in enumerate(job.stages)}
    pruned = lockfile.pruned_outputs(job_dir)
    for name, path in planned.inputs.items():
        if path.exists() or path.resolve() in pruned:
            continue
        source = maker(job, job_dir, path)
        if source is None:
            raise InputError(f"{path} ({planned.refs[name]}) does not exist",
                             fix="restore the file, or prepare the job again")
        if source not in selected or position[source] >= position[planned.key]:
            raise InputError(
                f"needs {planned.refs[name]}, which does not exist yet and {source} is not "
                "part of this run", fix=f"run the earlier stages too: ./run-pipeline.sh -j "
                f"{job.job_id} (without --only/--from)")


def plan_jobs(job_runs: list, hardware: HardwareCache, models: ModelRegistry,
              executor: Executor) -> Problems:
    """Fill each JobRun's ``plan`` (key -> PlannedStage) and ``unplanned`` (key -> the error
    that stopped its planning); return every problem (those of planned stages too: a venv
    not built here, or on no node of the cluster, an input nothing makes), equal ones
    grouped across jobs."""
    found: dict[tuple[str, str], tuple[list[str], PipelineError]] = {}
    offered = executor.offered_models()
    for jr in job_runs:
        for key in jr.selected:
            try:
                jr.plan[key] = plan_stage(jr.job, jr.job_dir, key, hardware, models, offered)
                executor.check_ready(jr.plan[key].needs)
                check_inputs(jr.job, jr.job_dir, jr.selected, jr.plan[key])
            except PipelineError as e:
                if key not in jr.plan:
                    jr.unplanned[key] = e
                where, _ = found.setdefault((type(e).__name__, str(e)), ([], e))
                where.append(f"job {jr.job.job_id} {key}")
        try:
            plan_pruned_makers(jr, hardware, models, offered)
        except PipelineError as e:
            where, _ = found.setdefault((type(e).__name__, str(e)), ([], e))
            where.append(f"job {jr.job.job_id}")
    full = disk_need.disk_problem(job_runs)
    if full is not None:
        found[("disk", str(full))] = ([f"job {jr.job.job_id}" for jr in job_runs], full)
    return list(found.values())


def plan_pruned_makers(jr, hardware: HardwareCache, models: ModelRegistry,
                       offered: dict[str, str | None] | None = None) -> None:
    """Plan, too, each stage that must make again an input --prune removed (it runs first
    when the stage reading it runs), and the makers of its own pruned inputs."""
    pruned = lockfile.pruned_outputs(jr.job_dir)
    pending = list(jr.plan.values())
    while pending:
        planned = pending.pop()
        for path in planned.inputs.values():
            if path.exists() or path.resolve() not in pruned:
                continue
            source = maker(jr.job, jr.job_dir, path)
            if source is not None and source not in jr.plan:
                jr.plan[source] = plan_stage(jr.job, jr.job_dir, source, hardware, models,
                                             offered)
                pending.append(jr.plan[source])


def environments(job_runs: list) -> dict[Path, dict[str, str]]:
    """job folder -> stage instance -> the venv it runs in, as planned."""
    return {jr.job_dir: {key: p.env for key, p in jr.plan.items()} for jr in job_runs}
