"""Which files a stage instance reads: its SPEC's input references resolved in one job.

For every input the first alternative this job produces wins. A per-language producer counts
only in the same language (subtitles:en reads translation:en); a reference ending in "*"
takes every instance of its stage, as inputs "<name>:<lang>"; "?" marks an optional input;
"job:media" and "job:glossary" are the job's own files.
"""

from __future__ import annotations

from pathlib import Path

from shared.errors import PipelineError
from shared.job import Job
from shared.stage import StageSpec
from shared.workflows import StageInstance


def stage_inputs(job: Job, job_dir: Path, consumer: StageInstance, spec: StageSpec
                 ) -> tuple[dict[str, str], dict[str, Path]]:
    """(input name -> the reference it came from, input name -> path) for this instance."""
    refs: dict[str, str] = {}
    inputs: dict[str, Path] = {}
    for name, alternatives in spec.inputs.items():
        options = (alternatives,) if isinstance(alternatives, str) else alternatives
        for ref in options:
            found = producers(job, job_dir, consumer, ref.rstrip("?"))
            if found is None:
                continue
            for lang, path in found:
                input_name = name if lang is None else f"{name}:{lang}"
                refs[input_name], inputs[input_name] = ref.rstrip("?*"), path
            break
        else:
            if not all(ref.endswith("?") for ref in options):
                raise PipelineError(
                    f"job {job.job_id} has no stage producing {' or '.join(options)}",
                    fix="check the workflow in config/workflows.toml")
    return refs, inputs


def producers(job: Job, job_dir: Path, consumer: StageInstance, ref: str
              ) -> list[tuple[str | None, Path]] | None:
    """(language or None, path) for each file ``ref`` names in this job; None if the job has
    no producer for it."""
    every = ref.endswith("*")
    source, _, name = ref.rstrip("*").partition(":")
    if source == "job":
        path = job.file(name, job_dir)
        return None if path is None else [(None, path)]
    found = [i for i in job.stages if i.stage == source]
    if not every and any(i.lang is not None for i in found):
        found = [i for i in found if i.lang == consumer.lang]
    if not found:
        return None
    return [(i.lang if every else None, job_dir / i.dir / name) for i in found]


def maker(job: Job, job_dir: Path, path: Path) -> str | None:
    """The key of the stage instance of this job whose folder holds ``path``."""
    path = path.resolve()
    return next((i.key for i in job.stages
                 if path.is_relative_to((job_dir / i.dir).resolve())), None)
