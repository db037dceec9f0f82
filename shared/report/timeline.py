"""The report's timeline lanes from a job's outputs: speech regions, cues per language with
their QC flags (or, before the subtitles exist, the transcript's segments marked not
subtitled), songs with the soundtrack title they matched, removed hallucinations."""

from __future__ import annotations

from shared.report.sources import JobFiles
from shared.subtitle_text import graphemes, read


def speech_regions(files: JobFiles) -> list[list[float]]:
    """[start, end] of each speech region: the vad stage's, else asr's own (speech_regions)."""
    vad = files.json("vad", "speech_segments.json") or {}
    if vad.get("segments"):
        return [[round(s["start"], 3), round(s["end"], 3)] for s in vad["segments"]]
    asr = files.json("asr", "segments.json") or {}
    return [[round(a, 3), round(b, 3)] for a, b in asr.get("speech_regions") or []]


def qc_flags(qc: dict) -> dict[int, list[str]]:
    """cue number -> the rules it still breaks (qc.json rules[*].cues) and "untranslated"."""
    flags: dict[int, list[str]] = {}
    for rule, table in (qc.get("rules") or {}).items():
        for number in table.get("cues") or []:
            flags.setdefault(int(number), []).append(rule)
    for cue in (qc.get("untranslated") or {}).get("cues") or []:
        flags.setdefault(int(cue["cue"]), []).append("untranslated")
    return flags


def tracks(files: JobFiles) -> list[dict]:
    """One track per subtitles instance: language, role, every cue of its SRT (number,
    times, text, characters per second, graphemes per line, flags)."""
    found = []
    for key in files.keys("subtitles"):
        meta = files.json(key, "tracks.json") or {}
        srt = (meta.get("files") or {}).get("srt")
        if not srt or not (files.job_dir / srt).is_file():
            continue
        flags = qc_flags(files.json(key, "qc.json") or {})
        cues = [cue_entry(n, cue["start"] / 1000, cue["end"] / 1000, cue["lines"],
                          cue["lyrics"], flags.get(n, []))
                for n, cue in enumerate(read(files.job_dir / srt), start=1)]  # stage's reader
        found.append({"lang": meta.get("language") or key.split(":")[-1],
                      "role": "source" if key.endswith(":source") else "target",
                      "cues": cues})
    return found


def cue_entry(n: int, start: float, end: float, lines: list[str], lyrics: bool,
              flags: list[str]) -> dict:
    """A cue as the page shows it: times in seconds, its lines, characters per second and
    graphemes per line."""
    seconds = max(end - start, 1e-3)
    return {"n": n, "start": start, "end": end, "text": "\n".join(lines),
            "lines": [graphemes(x) for x in lines],
            "cps": round(graphemes(" ".join(lines)) / seconds, 1), "lyrics": bool(lyrics),
            "flags": flags}


# the transcript files before the subtitles, latest first: (stage, file)
TRANSCRIPTS = (("songs", "segments.json"), ("alignment", "aligned.json"),
               ("asr", "segments.json"))


def unsubtitled_track(files: JobFiles, failed_stage: str | None) -> dict | None:
    """For a job with no subtitles yet: the latest transcript a stage wrote (songs',
    alignment's or asr's segments) as one track of cues marked not subtitled, so a job that
    failed before its subtitles still shows what was heard. None when there is none."""
    for key, name in TRANSCRIPTS:
        doc = files.json(key, name)
        segments = [s for s in (doc or {}).get("segments") or []
                    if isinstance(s, dict) and isinstance(s.get("start"), (int, float))
                    and isinstance(s.get("end"), (int, float))]
        if segments:
            break
    else:
        return None
    why = (f"the job failed at {failed_stage}" if failed_stage
           else "the subtitles stage has not finished")
    cues = [cue_entry(n, float(s["start"]), float(s["end"]), [str(s.get("text", "")).strip()],
                      s.get("lyrics") or False, []) for n, s in enumerate(segments, start=1)]
    return {"lang": doc.get("language") or files.job.source_lang,
            "role": f"{key}, not subtitled", "note": f"not subtitled: {why}", "cues": cues}


def songs(files: JobFiles) -> list[dict]:
    report = files.json("songs", "songs.json") or {}
    return [{"start": s["start"], "end": s["end"], "score": s.get("score"),
             "title": (s.get("track") or {}).get("title")} for s in report.get("songs") or []]


def hallucinations(files: JobFiles) -> list[dict]:
    """The segments asr's hallucination filter removed, with why."""
    report = files.json("asr", "hallucinations.json") or {}
    removed = []
    for entry in report.get("removed") or []:
        segment = entry.get("segment") or {}
        if "start" in segment and "end" in segment:
            removed.append({"start": segment["start"], "end": segment["end"],
                            "text": segment.get("text", ""), "reason": entry.get("reason", "")})
    return removed
