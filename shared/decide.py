"""Run or skip: a planned stage's fingerprint (once its inputs exist) against lock.json."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from shared import fingerprint, lockfile
from shared.code_fingerprint import code_hash
from shared.env_registry import EnvironmentRegistry
from shared.file_hashes import HashMemo
from shared.job import Job
from shared.plan import PlannedStage

FORCE_ALL = "*"
stage_code_hash = cache(code_hash)  # the source does not change during a run


def components(planned: PlannedStage, job: Job, job_dir: Path, memo: HashMemo,
               registry: EnvironmentRegistry) -> dict[str, Any]:
    """What the stage's outputs depend on; a pruned input counts by its recorded sha256."""
    spec = planned.spec
    pruned = lockfile.pruned_outputs(job_dir)
    return {
        "stage": f"{spec.name}@{spec.version}",
        "source": stage_code_hash(spec.name, spec.uses),
        "environment": f"{planned.env}:{registry.get(planned.env).lock_hash()[:16]}",
        "params": fingerprint.params_part(planned.params.model_dump(mode="json")),
        "models": {m.name: f"{m.repo_id}@{m.revision}" for m in planned.models},
        "inputs": {name: pruned[path.resolve()].sha256 if not path.exists()
                   else memo.sha256(path) for name, path in planned.inputs.items()},
        "context": {"title": job.title, "lang": job.instance(planned.key).lang},
    }


def decide(job_dir: Path, memo: HashMemo, key: str, stage: str, digest: str,
           parts: dict[str, Any], force: list[str]) -> tuple[str, list[str]]:
    """("run" | "skip", the reasons): forced, never run, fingerprint changed (which part),
    an output missing or modified; else up to date."""
    if FORCE_ALL in force or key in force or stage in force:
        return "run", ["forced"]
    record = lockfile.load(job_dir).stages.get(key)
    if record is None:
        return "run", ["not run before"]
    if record.fingerprint != digest and not fingerprint.matches(
            record.fingerprint, record.components, parts):
        return "run", fingerprint.explain(record.components, parts)
    for output in record.outputs:
        path = job_dir / output.path
        if output.pruned and not path.exists():
            continue  # removed by --prune: made again only when a stage needs it
        if not path.is_file():
            return "run", [f"output {output.path} missing"]
        if memo.sha256(path) != output.sha256:
            return "run", [f"output {output.path} modified"]
    return "skip", ["up to date"]
