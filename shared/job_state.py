"""A job's end state, the same for the end of a run and for `--status`: ok, degraded or
failed, with what degraded, and the exit code a batch of them gives.

A stage that delivers short of what was asked (the LLM fell back to the NMT draft, lines left
untranslated because the user allowed it, speech with no transcript) says so in its
``StageOutcome.degraded``; the runner keeps that in the stage's lock record, so a later run
that skips the stage still reports it, and a re-run that fixes it clears it.
"""

from __future__ import annotations

from pathlib import Path

from shared import job as jobs
from shared import lockfile

OK, DEGRADED, FAILED, PENDING = "ok", "degraded", "failed", "pending"

# Exit codes of run-pipeline.sh (README: exit codes). 2 is bad input or a problem found
# before any stage ran; 130 an interrupted run.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_DEGRADED = 3


def degradations(job: jobs.Job, job_dir: Path) -> list[str]:
    """Every "<stage key>: <what degraded>" the job's finished stages recorded, in order."""
    lock = lockfile.load(job_dir)
    found = []
    for instance in job.stages:
        record = lock.stages.get(instance.key)
        if record is not None:
            found += [f"{instance.key}: {reason}" for reason in record.degraded]
    return found


def state_of(failed: bool, degraded: list[str], pending: bool = False) -> str:
    if failed:
        return FAILED
    if pending:
        return PENDING
    return DEGRADED if degraded else OK


def batch_exit_code(states: list[str]) -> int:
    """0 only when every job is ok; 1 when any failed; 3 when all finished, some degraded."""
    if any(s in (FAILED, PENDING) for s in states):
        return EXIT_FAILED
    if any(s == DEGRADED for s in states):
        return EXIT_DEGRADED
    return EXIT_OK
