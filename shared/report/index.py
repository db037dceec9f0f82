"""out/index.html: every job under the output root (title, media, languages, state,
duration, when, link to its report), failed first; sortable in the page."""

from __future__ import annotations

import time
from pathlib import Path

from shared import atomic, job_state, lockfile, run_record
from shared import job as jobs
from shared.errors import PipelineError
from shared.report.data import clock, find_failure, stage_rows, unfinished
from shared.report.html import REPORT_FILE, render_index
from shared.report.sources import JobFiles

INDEX_FILE = "index.html"
# the index's default order: what needs a person first
STATE_ORDER = {job_state.FAILED: 0, job_state.DEGRADED: 1, job_state.PENDING: 2,
               job_state.OK: 3}


def job_row(job_dir: Path) -> dict | None:
    try:
        job = jobs.load(job_dir)
    except PipelineError:
        return None
    files = JobFiles(job_dir, job)
    media_info = files.json("demux", "media_info.json") or {}
    duration = float(media_info.get("duration") or job.media.duration or 0.0)
    stages = stage_rows(files, lockfile.load(job_dir), duration, run_record.load(job_dir))
    state = job_state.state_of(find_failure(files, stages) is not None,
                               job_state.degradations(job, job_dir), unfinished(stages))
    languages = " → ".join(filter(None, [job.source_lang, ", ".join(job.target_langs)]))
    report = job_dir / REPORT_FILE
    return {"id": job.job_id, "title": job.title, "media": job.media.path.name,
            "languages": languages, "state": state, "state_rank": STATE_ORDER.get(state, 9),
            "duration": round(duration, 3), "duration_text": clock(duration),
            "when": job.created_at,
            "report": f"{job_dir.name}/{REPORT_FILE}" if report.is_file() else None}


def write_index(jobs_root: Path) -> Path:
    """Write <jobs_root>/index.html (atomically): failed, degraded, pending, ok; newest first
    within a state."""
    rows = [row for path in sorted(jobs_root.glob(f"*/{jobs.JOB_FILE}"))
            if (row := job_row(path.parent)) is not None]
    rows.sort(key=lambda r: r["when"], reverse=True)
    rows.sort(key=lambda r: r["state_rank"])
    path = jobs_root / INDEX_FILE
    updated = time.strftime("%Y-%m-%d %H:%M:%S")
    atomic.write_text(path, render_index(rows, str(jobs_root), updated))
    return path
