"""Will a run's outputs fit on the disk? Before the first stage starts, what the run will make
(each planned stage instance with no lock.json record yet) is estimated from the job's audio
length and media size (``StageSpec.disk_estimate``; small files otherwise) and summed per
filesystem; a batch that would fill its disk stops at once with the fix, instead of failing
hours in when a stage's write finds no space."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from shared import lockfile
from shared.errors import InputError

SMALL_PER_S = 2000  # JSON, subtitles, logs: ~1.2 kB per second of film measured (README)
RESERVE = 64 * 1024 * 1024  # left free: a full disk stops more than this run
GB = 1024**3


def audio_seconds(job) -> float | None:
    """The length of the audio the job processes: its clip, else the media's duration."""
    duration = job.media.duration
    end = job.end_time if job.end_time is not None else duration
    if end is None:
        return None
    return max(0.0, end - (job.start_time or 0.0))


def job_bytes(jr) -> float:
    """What the planned stages of a JobRun that have not finished yet will write."""
    seconds = audio_seconds(jr.job)
    if not seconds:
        return 0.0
    recorded = lockfile.load(jr.job_dir).stages
    total = 0.0
    for key, planned in jr.plan.items():
        if key in recorded:  # made already (a re-run writes over it)
            continue
        estimate = planned.spec.disk_estimate
        total += (estimate(planned.params, seconds, jr.job.media.size) if estimate
                  else SMALL_PER_S * seconds)
    return total


def size_text(size: float) -> str:
    return f"{size / GB:.1f} GB" if size >= GB / 10 else f"{size / 1024**2:.1f} MB"


def disk_problem(job_runs: list) -> InputError | None:
    """The error naming a filesystem the run's jobs would fill, with the fix; None if they fit."""
    by_disk: dict[int, list] = {}
    for jr in job_runs:
        by_disk.setdefault(os.stat(jr.job_dir).st_dev, []).append(jr)
    for runs in by_disk.values():
        need = {jr.job.job_id: job_bytes(jr) for jr in runs}
        free = shutil.disk_usage(runs[0].job_dir).free
        if sum(need.values()) + RESERVE <= free:
            continue
        root = Path(os.path.commonpath([str(jr.job_dir.parent) for jr in runs]))
        largest = sorted(need.items(), key=lambda item: -item[1])[:3]
        each = ", ".join(f"{job_id} {size_text(size)}" for job_id, size in largest)
        return InputError(
            f"this run would write about {size_text(sum(need.values()))} under {root} "
            f"({len(runs)} job(s): {each}), which has {size_text(free)} free; a run needs "
            f"that and {size_text(RESERVE)} to spare",
            fix="free space there, run fewer jobs at once (-j), remove the intermediates of "
            "finished jobs (./run-pipeline.sh -j JOB --prune), or prepare the jobs on a larger "
            "disk (prepare-job.sh --out)")
    return None
