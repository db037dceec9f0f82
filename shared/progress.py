"""Batch progress: jobs done of the total, which stage runs on which node, and an ETA from
the real-time factors (stage seconds per second of media) the batch's lock files measured.

The runner prints it as each part of a stage starts and ends; `run-pipeline.sh --status`
prints the same from the lock files alone."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shared import job as jobs
from shared import lockfile, run_record


def measured_rtfs(batch: Iterable[tuple[Path, float | None]]) -> dict[str, float]:
    """Stage name -> its real-time factor over every record of the batch's lock files
    (total stage seconds / total media seconds); ``batch``: (job folder, media seconds)."""
    seconds: dict[str, float] = {}
    media: dict[str, float] = {}
    for job_dir, duration in batch:
        if not duration:
            continue
        for record in lockfile.load(job_dir).stages.values():
            seconds[record.stage] = seconds.get(record.stage, 0.0) + record.duration_s
            media[record.stage] = media.get(record.stage, 0.0) + duration
    return {stage: seconds[stage] / media[stage] for stage in seconds}


@dataclass
class Eta:
    seconds: float  # of the remaining stages with a measured RTF
    unmeasured: list[str]  # the remaining stages without one (or media of unknown length)


def eta_seconds(remaining: list[tuple[str, float | None]], rtfs: dict[str, float],
                parallel: int = 1) -> Eta:
    """Seconds left for ``remaining`` (stage name, media seconds) run ``parallel`` at a
    time, counting the stages with a measured RTF; the others are named."""
    total, unmeasured = 0.0, []
    for stage, duration in remaining:
        if stage in rtfs and duration:
            total += rtfs[stage] * duration
        elif stage not in unmeasured:
            unmeasured.append(stage)
    return Eta(total / max(1, parallel), unmeasured)


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def line(done: int, total: int, running: dict[str, dict[str, int]], eta: Eta) -> str:
    """"batch: 2/6 jobs done; asr on host/1a2b3c4d (2 jobs); ETA 1m20s" (ETA >= ... and
    what is not measured yet while some remaining stage has not run once)."""
    parts = [f"batch: {done}/{total} jobs done"]
    for key, nodes in running.items():
        if not nodes:
            continue
        where = ", ".join(f"{node} ({n} job{'s' if n > 1 else ''})" for node, n in nodes.items())
        parts.append(f"{key} on {where}")
    if not eta.unmeasured:
        parts.append(f"ETA {clock(eta.seconds)}")
    else:
        parts.append(f"ETA >= {clock(eta.seconds)} ({', '.join(eta.unmeasured)} not "
                     "measured yet)")
    return "; ".join(parts)


def batch_status(job_dirs: list[Path]) -> str:
    """--status's progress line: jobs whose every stage is recorded, of all, the stages a
    run in progress is running (on which node, from its logs/last_run.json), and the ETA
    of what is not recorded yet, from the RTFs measured so far (one stage at a time)."""
    loaded = [(job_dir, jobs.load(job_dir)) for job_dir in job_dirs]
    rtfs = measured_rtfs((job_dir, job.media.duration) for job_dir, job in loaded)
    done, remaining = 0, []
    running: dict[str, dict[str, int]] = {}
    for job_dir, job in loaded:
        recorded = lockfile.load(job_dir).stages
        left = [i.stage for i in job.stages if i.key not in recorded]
        done += not left
        remaining += [(stage, job.media.duration) for stage in left]
        for key, node in running_stages(job_dir).items():
            nodes = running.setdefault(key, {})
            nodes[node] = nodes.get(node, 0) + 1
    return line(done, len(job_dirs), running, eta_seconds(remaining, rtfs))


def running_stages(job_dir: Path) -> dict[str, str]:
    """Stage key -> node of the stages a run of the job holds running now (its run record
    says running, and the run that wrote it still holds the job)."""
    last = run_record.load(job_dir)
    if last is None or last.finished_at is not None or not run_in_progress(job_dir):
        return {}
    return {key: entry.node or "?" for key, entry in last.stages.items()
            if entry.state == "running" and entry.started_at is not None}


def run_in_progress(job_dir: Path) -> bool:
    """run.pid names a live run: another host's is taken on trust, this host's pid must
    still exist (a killed run leaves its run.pid behind)."""
    try:
        holder = json.loads((job_dir / lockfile.RUN_PID_FILE).read_text("utf-8"))
        pid, host = int(holder["pid"]), holder.get("host")
    except (OSError, ValueError, TypeError, KeyError):
        return False
    if host != socket.gethostname() or os.name == "nt":  # (signal 0 is Ctrl-C on Windows)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
