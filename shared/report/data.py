"""Everything the review report shows, collected from a job folder: job.json, lock.json,
each stage's result.json and outputs (speech_segments.json, segments.json,
hallucinations.json, songs.json, qc.json, tracks.json and the subtitle files, translation
segments.json / usage.json, glossary.json), logs/last_run.json. Missing or damaged files
leave their part empty: a failed or unfinished job still gets a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared import job as jobs
from shared import job_state, lockfile, run_record
from shared.report.peaks import waveform_peaks
from shared.report.sources import JobFiles, read_json
from shared.report.timeline import hallucinations, songs, speech_regions, tracks, unsubtitled_track
from shared.report.translation import glossary_terms, translations
from shared.stage import RESULT_FILE

# the info key shared/stage_main.py records each stage process's peak memory under (MB)
MEMORY_KEY = "peak_rss_mb"


def collect(job_dir: Path) -> dict[str, Any]:
    """The report's data: "page" for the template (header, stages, models) and "data" for
    the page's script (timeline, cues, sections)."""
    job = jobs.load(job_dir)
    files = JobFiles(job_dir, job)
    lock = lockfile.load(job_dir)
    media_info = files.json("demux", "media_info.json") or {}
    duration = float(media_info.get("duration") or job.media.duration or 0.0)
    last_run = run_record.load(job_dir)
    stages = stage_rows(files, lock, duration, last_run)
    failure = find_failure(files, stages)
    degraded = job_state.degradations(job, job_dir)
    state = job_state.state_of(failure is not None, degraded, unfinished(stages))
    audio = files.path("demux", "audio_16k.wav")
    peaks = waveform_peaks(audio) if audio is not None and audio.is_file() else None
    track_list = tracks(files) or [t for t in [unsubtitled_track(
        files, failure["stage"] if failure else None)] if t is not None]
    media_duration = duration or (peaks or {}).get("duration", 0.0)
    # the timeline spans the media and every cue (a cue may be held past the audio's end)
    duration = max([media_duration] + [c["end"] for t in track_list for c in t["cues"][-1:]])
    header = {
        "id": job.job_id, "title": job.title, "workflow": job.workflow,
        "created_at": job.created_at, "media": job.media.path.name,
        "media_path": str(job.media.path), "duration": media_duration,
        "duration_text": clock(media_duration), "languages": languages(files, job),
        "profile": job.profile, "device": device(lock), "state": state,
        "total_time": sum(s["duration"] or 0 for s in stages),
        "warnings": degraded + stage_warnings(files), "failure": failure,
        "last_run": last_run_text(last_run),
    }
    header["total_time_text"] = f"{header['total_time']:.1f} s of stage time"
    data = {
        "duration": duration, "peaks": peaks, "vad": speech_regions(files),
        "tracks": track_list, "qc": qc_tables(files), "songs": songs(files),
        "songs_note": None if "songs" in files.dirs else "no songs stage in this workflow",
        "hallucinations": hallucinations(files), "translation": translations(files),
        "glossary": {"terms": glossary_terms(files)},
    }
    audio_ok = audio is not None and audio.is_file()
    return {"job": header, "stages": stages, "models": models(lock), "data": data,
            "audio": files.relative(audio) if audio_ok else None,
            "audio_missing": audio_note(files, audio)}


def clock(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def audio_note(files: JobFiles, audio: Path | None) -> str:
    if audio is None:
        return "this job has no demux stage"
    if any(o.pruned and o.path == files.relative(audio)
           for r in lockfile.load(files.job_dir).stages.values() for o in r.outputs):
        return ("the demuxed audio was pruned (run-pipeline.sh --prune); re-run demux with "
                f"./run-pipeline.sh -j {files.job.job_id} --force demux to hear cues again")
    return "the demux stage has not written audio_16k.wav yet"


def stage_rows(files: JobFiles, lock: lockfile.JobLock, duration: float,
               last_run: run_record.LastRun | None) -> list[dict]:
    """One row per stage instance: what the last run did with it and why (logs/last_run.json),
    time, RTF, peak memory when the stage recorded one, its log."""
    entries = last_run.stages if last_run is not None else {}
    rows = []
    for instance in files.job.stages:
        record = lock.stages.get(instance.key)
        entry = entries.get(instance.key)
        seconds = record.duration_s if record is not None else None
        info = record.info if record is not None else {}
        memory = info.get(MEMORY_KEY)
        log = files.job_dir / "logs" / (instance.key.replace(":", "_") + ".log")
        rows.append({
            "key": instance.key, "env": files.job.environments.get(instance.key, "?"),
            "state": stage_state(files, instance.key, record, entry),
            "reason": stage_reason(entry), "finished": record is not None,
            "error": entry.error if entry is not None and entry.state == "failed" else None,
            "fix": entry.fix if entry is not None and entry.started_at is None else None,
            "duration": seconds,
            "duration_text": f"{seconds:.1f} s" if seconds is not None else "",
            "rtf_text": f"{seconds / duration:.2f}" if seconds and duration else "",
            "memory_text": f"{memory:.0f} MB" if memory is not None else "",
            "node": (record.node or "") if record is not None else "",
            "log": files.relative(log) if log.is_file() else None, "log_name": log.name})
    return rows


def stage_state(files: JobFiles, key: str, record, entry: run_record.StageEntry | None) -> str:
    """What the last run did (ran / skipped / failed / interrupted; unfinished when the run
    never recorded the stage's end); for a stage it left alone: done (an earlier run),
    failed (result.json of a run before the record existed) or pending."""
    if entry is not None:
        return "unfinished" if entry.state == "running" else entry.state
    if record is not None:
        return "done"
    result = read_json(files.path(key, RESULT_FILE)) or {}
    return "failed" if result.get("status") == "failed" else "pending"


def stage_reason(entry: run_record.StageEntry | None) -> str:
    if entry is None:
        return ""
    if entry.state == "failed":
        return entry.error or "failed"
    if entry.state == "running":
        return "the run ended without recording this stage's end (killed?)"
    return "; ".join(entry.reasons)


def unfinished(stages: list[dict]) -> bool:
    """Some stage has no finished run: the job is pending (unless one failed)."""
    return any(not s["finished"] for s in stages)


def last_run_text(last_run: run_record.LastRun | None) -> str:
    if last_run is None:
        return "not recorded (run by an older version, or never run)"
    counts: dict[str, int] = {}
    for entry in last_run.stages.values():
        counts[entry.state] = counts.get(entry.state, 0) + 1
    done = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no stage"
    end = last_run.finished_at or "did not record its end"
    options = " ".join(f"--{k.replace('_stage', '')} {','.join(v) if isinstance(v, list) else v}"
                       for k, v in last_run.options.items())
    return f"{last_run.started_at} to {end}: {done}" + (f" ({options})" if options else "")


def find_failure(files: JobFiles, stages: list[dict]) -> dict | None:
    """The failed stage: its error, the fix (the error's "fix:" line, else read the log and
    re-run), the log and its last lines."""
    failed = next((s for s in stages if s["state"] == "failed"), None)
    if failed is None:
        return None
    result = read_json(files.path(failed["key"], RESULT_FILE)) or {}
    text = result.get("error") or failed["error"] or "the stage failed"
    message, _, fix = text.partition("\n  fix: ")
    fix = fix or (failed["fix"] if not result.get("error") else "") or ""
    log = files.job_dir / failed["log"] if failed["log"] else None
    tail = log.read_text("utf-8", errors="replace").splitlines()[-15:] if log else []
    default_fix = (f"read {failed['log'] or 'logs/pipeline.log'}, fix the cause, then "
                   f"re-run ./run-pipeline.sh -j {files.job.job_id}: completed stages are kept")
    return {"stage": failed["key"], "message": message.strip(), "fix": fix.strip() or default_fix,
            "log": failed["log"], "tail": tail}


def languages(files: JobFiles, job: jobs.Job) -> list[dict]:
    """Spoken languages with their share of the speech (asr), then the targets."""
    asr = files.json("asr", "segments.json") or {}
    shares = asr.get("language_shares") or {}
    found = [{"code": code, "share": share, "role": "spoken"} for code, share in shares.items()]
    if not found:
        found = [{"code": job.source_lang, "share": None, "role": "spoken"}]
    return found + [{"code": t, "share": None, "role": "target"} for t in job.target_langs]


def device(lock: lockfile.JobLock) -> str | None:
    for key in ("asr", "vad", "alignment"):
        record = lock.stages.get(key)
        if record is not None and record.components.get("params", {}).get("device"):
            return record.components["params"]["device"]
    return None


def models(lock: lockfile.JobLock) -> list[dict]:
    """Every model a finished stage ran with: name and repo@revision."""
    rows = []
    for key, record in lock.stages.items():
        for name, ref in (record.components.get("models") or {}).items():
            rows.append({"stage": key, "name": name,
                         "revision": str(ref).removeprefix("None@")})  # no hub repo
    return rows


def stage_warnings(files: JobFiles) -> list[str]:
    """Warnings the stages wrote into their outputs (metadata, vad quality, LLM usage)."""
    found = []
    for key, name, field in (("metadata", "metadata.json", "warnings"),
                             ("vad", "speech_segments.json", "quality")):
        value = files.json(key, name) or {}
        value = value.get("warnings") if field == "warnings" else (value.get(field) or {}).get(
            "warnings")
        found += [f"{key}: {w}" for w in value or [] if isinstance(w, str)]
    for key in files.keys("translation_llm"):
        usage = files.json(key, "usage.json") or {}
        found += [f"{key}: {w}" for w in usage.get("warnings") or [] if isinstance(w, str)]
    return found


def qc_tables(files: JobFiles) -> list[dict]:
    tables = []
    for key in files.keys("subtitles"):
        qc = files.json(key, "qc.json")
        if not qc:
            continue
        rules = [{"rule": rule, **{k: v.get(k) for k in ("limit", "before", "after", "why_left")}}
                 for rule, v in (qc.get("rules") or {}).items()]
        tables.append({"lang": qc.get("language", key), "cues": qc.get("cues", 0),
                       "ok": bool(qc.get("ok")), "rules": rules})
    return tables
