"""The report's timeline lanes from a job's outputs: speech regions, cues per language with
their QC flags, songs with the soundtrack title they matched, removed hallucinations."""

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
    """cue number -> the rules it still breaks (qc.json rules[*].cues), "untranslated" and
    "doubtful_language" (a cue over speech asr's language check left doubtful)."""
    flags: dict[int, list[str]] = {}
    for rule, table in (qc.get("rules") or {}).items():
        for number in table.get("cues") or []:
            flags.setdefault(int(number), []).append(rule)
    for kind in ("untranslated", "doubtful_language"):
        for cue in (qc.get(kind) or {}).get("cues") or []:
            flags.setdefault(int(cue["cue"]), []).append(kind)
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
        cues = []
        for n, cue in enumerate(read(files.job_dir / srt), start=1):  # the stage's reader
            lines = cue["lines"]
            seconds = max((cue["end"] - cue["start"]) / 1000, 1e-3)
            cues.append({"n": n, "start": cue["start"] / 1000, "end": cue["end"] / 1000,
                         "text": "\n".join(lines), "lines": [graphemes(x) for x in lines],
                         "cps": round(graphemes(" ".join(lines)) / seconds, 1),
                         "lyrics": cue["lyrics"], "flags": flags.get(n, [])})
        found.append({"lang": meta.get("language") or key.split(":")[-1],
                      "role": "source" if key.endswith(":source") else "target",
                      "cues": cues})
    return found


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
