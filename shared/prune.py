"""Pruned intermediates: what `run-pipeline.sh --prune` removes, and how a later run makes a
pruned file again when a stage that reads it must run.

``prune_job`` deletes a finished job's large intermediates (``INTERMEDIATE_SUFFIXES`` in
``stages/``) under the run lock; lock.json keeps their records with ``pruned: true`` (sha256
and size kept, marked before the delete), so the next run counts them as present (shared/
decide.py, shared/plan.py) and skips what is done. ``Remaker`` is the runner's part: when a
stage must run and reads a pruned file, it first re-runs the stage that made it (after that
stage's own pruned inputs, recursively), with the reason ``re-run: <path> was pruned and
<key> needs it``, then decides again on the new file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shared import job as jobs
from shared import lockfile
from shared.errors import InputError, JobBusyError
from shared.stage_inputs import maker

if TYPE_CHECKING:
    from shared.display import Display
    from shared.runner import JobRun, RunOptions, StagePlan

# What --prune removes: the large files stages pass to each other (16 kHz / 44.1 kHz audio,
# stems, the streamed segments.jsonl), never the deliverables in subtitles/, the muxed video
# or the small JSON reports and records.
INTERMEDIATE_SUFFIXES = (".wav", ".flac", ".jsonl")


@dataclass
class PruneReport:
    job_id: str
    removed: list[lockfile.OutputRecord]
    size_before: int
    size_after: int


def is_intermediate(output: lockfile.OutputRecord) -> bool:
    return output.path.startswith("stages/") and output.path.endswith(INTERMEDIATE_SUFFIXES)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def prune_job(job_dir: Path) -> PruneReport:
    """run --prune: remove a finished job's intermediates. lock.json keeps their records
    (marked pruned), so the next run skips what is done; a stage that must run and reads
    one re-runs the stage that made it first. Refused (exit 2) while the job runs or
    before every stage has finished once."""
    job = jobs.load(job_dir)
    try:
        with lockfile.hold(job_dir):
            lock = lockfile.load(job_dir)
            unfinished = [i.key for i in job.stages if i.key not in lock.stages]
            if unfinished:
                raise InputError(
                    f"cannot prune job {job.job_id}: it has not finished (not run yet: "
                    f"{', '.join(unfinished)}); --prune removes the intermediates of finished "
                    "jobs only", fix=f"run it first: ./run-pipeline.sh -j {job.job_id}")
            before = folder_size(job_dir)
            removed = [o for r in lock.stages.values() for o in r.outputs
                       if is_intermediate(o) and not o.pruned]
            lockfile.mark_pruned(job_dir, {o.path for o in removed})
            for output in removed:
                (job_dir / output.path).unlink(missing_ok=True)
            return PruneReport(job.job_id, removed, before, folder_size(job_dir))
    except JobBusyError as e:
        raise InputError(f"cannot prune: {e.message}", fix=e.fix) from e


def makers(job: jobs.Job, job_dir: Path, inputs: dict[str, Path]) -> dict[str, Path]:
    """The stage instances that made the pruned files among ``inputs`` (key -> one such
    file), in the job's stage order."""
    pruned = lockfile.pruned_outputs(job_dir)
    found: dict[str, Path] = {}
    for path in inputs.values():
        if path.exists() or path.resolve() not in pruned:
            continue
        source = maker(job, job_dir, path)
        assert source is not None, path  # --prune removes only files in stage folders
        found.setdefault(source, path)
    order = [i.key for i in job.stages]
    return {key: found[key] for key in sorted(found, key=order.index)}


@dataclass
class Remaker:
    """Runs, out of the batch, the stages whose pruned outputs a stage about to run needs.
    ``decide`` and ``execute`` are the runner's own (shared.runner.Runner)."""

    decide: Callable[[JobRun, str, RunOptions], StagePlan]
    execute: Callable[[str, str, list[tuple[JobRun, StagePlan]]], None]
    display: Display

    def restore(self, jr: JobRun, plan: StagePlan, options: RunOptions) -> StagePlan | None:
        """``plan`` again once every pruned input it reads is made anew (``plan`` itself when
        none is); None if such a re-run failed. A dry run only says so."""
        needed = makers(jr.job, jr.job_dir, plan.inputs)
        if not needed:
            return plan
        if options.dry_run:
            plan.reasons.append(f"after re-running {', '.join(needed)} (pruned inputs)")
            return plan
        for source, path in needed.items():
            rel = path.relative_to(jr.job_dir).as_posix()
            if not self.rerun(jr, source, f"re-run: {rel} was pruned and {plan.key} needs it",
                              options):
                return None
        return self.decide(jr, plan.key, options)

    def rerun(self, jr: JobRun, key: str, reason: str, options: RunOptions) -> bool:
        """Run one stage instance of one job again for ``reason`` (after its own pruned
        inputs); False if it failed (jr.error says why)."""
        plan = self.restore(jr, self.decide(jr, key, options), options)
        if plan is None:
            return False
        plan.action, plan.reasons = "run", [reason]
        self.display.decision(jr.job.job_id, key, plan.action, plan.reasons)
        jr.log(f"{key}: run ({reason})")
        jr.record.decided(key, "run", [reason], restored=True)
        if key in jr.skipped:
            jr.skipped.remove(key)
        self.execute(key, plan.env, [(jr, plan)])
        return jr.error is None
