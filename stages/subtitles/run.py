"""The subtitles stage's work for one job: segments -> cues -> fixing pass -> QC -> files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from shared import atomic, transcript
from shared.file_names import safe_title
from shared.model_registry import better_model_fix
from shared.stage import StageOutcome, StageRequest
from shared.transcript import Line, Segment, Transcript, Translation
from stages.subtitles import (
    PROFILE_FIELDS,
    SubtitleParams,
    formats,
    qc,
    segmentation,
    speech,
    timing,
)
from stages.subtitles.cues import Cue, InputReport
from stages.subtitles.speech import Speech
from stages.subtitles.style import StyleProfile, frame_rate, load_sections, profile_for
from stages.subtitles.wrapping import wrap

logger = logging.getLogger(__name__)



def _language_tags(lang: str) -> tuple[str, str]:
    from shared.errors import InputError
    from shared.languages import load_languages

    try:
        entry = load_languages().get(lang)
    except InputError:
        return "und", lang
    return entry.iso639_2, entry.name


def track_languages(segments: list[Segment], default: str) -> list[dict]:
    """Every language the segments hold, with its share of their speech, largest first."""
    from stages.asr.languages import shares

    found = shares(segments, default) or {default: 1.0}
    return [{"language": code, "iso639_2": _language_tags(code)[0],
             "name": _language_tags(code)[1], "share": share} for code, share in found.items()]


def cue_languages(cues: list[Cue], languages: list[dict]) -> list[dict]:
    """qc.json's languages: each one's share of the speech and its cues (numbers from 1, as
    ranges [first, last])."""
    rows = []
    for row in languages:
        numbers = [i + 1 for i, cue in enumerate(cues) if cue.language == row["language"]]
        ranges: list[list[int]] = []
        for n in numbers:
            if ranges and ranges[-1][1] == n - 1:
                ranges[-1][1] = n
            else:
                ranges.append([n, n])
        rows.append({"language": row["language"], "share": row["share"], "cues": len(numbers),
                     "cue_ranges": ranges})
    return rows


def _transcript(request: StageRequest, source: Transcript, lang: str, offset: float,
                base: Path, cues: list[Cue], languages: list[dict]) -> list[Path]:
    """The source transcript beside the subtitles: <title>.<lang>.json (segments with their
    words, cues, languages; times on the media's timeline) and .txt (one line a segment)."""
    def shift(item: dict) -> dict:
        moved = dict(item)
        for key in ("start", "end"):
            if isinstance(item.get(key), (int, float)):
                moved[key] = round(item[key] + offset, 3)
        return moved

    document = {
        "title": request.title, "language": lang,
        "language_probability": source.language_probability,
        "model": source.model, "timeline_offset": offset,
        "languages": {row["language"]: row["share"] for row in languages},
        "segments": [{**shift(s.to_json()), "language": s.language or lang,
                      "words": [shift(w.to_json()) for w in s.words]} for s in source.segments],
        "cues": [{"id": i + 1, "start": cue.start / 1000, "end": cue.end / 1000,
                  "text": cue.text, "language": cue.language} for i, cue in enumerate(cues)],
    }
    atomic.write_json(Path(f"{base}.json"), document)
    atomic.write_text(Path(f"{base}.txt"), "".join(
        s.text.strip() + "\n" for s in source.segments if s.text.strip()))
    return [Path(f"{base}.json"), Path(f"{base}.txt")]


def make_cues(segments: list[Segment] | list[Line], profile: StyleProfile, fps: float,
              offset: float = 0.0, language: str = "und", notes: list[str] | None = None,
              speech: Speech | None = None, end: float | None = None,
              unsubtitled_s: float = 0.0, unreadable_cps: float = 0.0,
              rechecks: list[dict[str, Any]] | None = None
              ) -> tuple[list[Cue], dict[str, Any]]:
    """Segments -> timed, checked cues and the QC report (the stage minus its files).
    ``speech``: where the speech is on the media's timeline (word times are clipped to it);
    ``offset``: where the audio starts on it (no cue starts before), ``end`` where it ends
    (no cue ends after); ``unsubtitled_s``: speech longer than this with no cue is listed in
    the report (0: not checked); ``unreadable_cps``: see qc.unreadable; ``rechecks``: asr's
    per-chunk language checks (segments.json), whose doubtful regions flag the cues over
    them (qc.doubtful_language; on a target track every cue of a line whose source segment
    overlaps one)."""
    report = InputReport(notes=list(notes or []))
    before = segmentation.naive(segments, profile, offset)
    cues = segmentation.build(segments, profile, offset, report, speech)
    rules = timing.Timing.of(profile, fps)
    timing.fix(cues, rules, round(offset * 1000), round(end * 1000) if end else None)
    quality = qc.report(before, cues, profile, rules, language, report)
    quality["speech_regions"] = len(speech.regions) if speech is not None else None
    quality["unsubtitled_speech"] = qc.unsubtitled_speech(cues, speech, unsubtitled_s)
    quality["unreadable"] = qc.unreadable(cues, rules, unreadable_cps)
    quality["doubtful_language"] = qc.doubtful_language(
        cues, rechecks or [], offset, [(s.start, s.end) for s in segments if isinstance(s, Line)])
    quality["ok"] = quality["ok"] and not any(
        quality[kind]["count"] for kind in ("unsubtitled_speech", "unreadable",
                                            "doubtful_language"))
    return cues, quality


def _degraded(quality: dict[str, Any], doc: Transcript | Translation, is_source: bool,
              lang: str) -> list[str]:
    """The track's degraded reasons: cues no one can read (every track); on a source track
    also speech no cue shows and cues over a region of doubtful language (a target track
    flags the cues translating those segments in its qc.json only)."""
    model_fix = better_model_fix(lang, getattr(doc, "model", None))
    reasons = [qc.unreadable_reason(quality["unreadable"], (
        "listen there and merge, retime or condense the cue by hand (word times that "
        "collapse to one instant come from a repetition loop or a failed alignment: asr's "
        "segments.jsonl and hallucinations.json show what Whisper wrote there)"))]
    if is_source:
        reasons.append(qc.unsubtitled_reason(quality["unsubtitled_speech"], (
            "listen there (asr's hallucinations.json lists any text its filter removed); "
            "speech in another language needs --set asr.multilingual=true or -s with that "
            f"language; speech in '{lang}' a larger model: {model_fix}")))
        reasons.append(qc.doubtful_reason(quality["doubtful_language"], (
            "check those cues; for speech in another language -s with it or "
            f"--set asr.multilingual=true; a larger model hears more: {model_fix}")))
    return [reason for reason in reasons if reason]


def media_end(media_info: dict) -> float | None:
    """Where the audio ends on the media's timeline (the clip's end with a clip), seconds."""
    duration = media_info.get("duration")
    if not isinstance(duration, (int, float)) or duration <= 0:
        return None
    return float(media_info.get("timeline_offset") or 0.0) + float(duration)


def _track_language(doc: Transcript | Translation, is_source: bool, request: StageRequest
                    ) -> tuple[str, list[dict]]:
    """The track's language and every language it holds: a source track is named after the
    language with the most speech."""
    lang = (doc.language or "und") if is_source else request.lang
    languages = track_languages(doc.segments if is_source else [], lang)
    if is_source and languages[0]["language"] != lang:
        logger.info("the track is named after its dominant language %s (%.0f%% of the speech), "
                    "not %s", languages[0]["language"], 100 * languages[0]["share"], lang)
        lang = languages[0]["language"]
    return lang, languages


def _language_checks(request: StageRequest, doc: Transcript | Translation
                     ) -> list[dict[str, Any]] | None:
    """asr's per-chunk language checks: the source track's own transcript's; a target
    track's from the transcript its translation started from (input ``source``), so the
    cues translating doubtful text are flagged as the source track's are."""
    if isinstance(doc, Translation):
        path = request.inputs.get("source")
        if path is None or not Path(path).is_file():
            return None
        doc = transcript.load_any(Path(path))
    return (doc.language_detection or {}).get("rechecks") \
        if isinstance(doc, Transcript) else None


def _cues(request: StageRequest, params: SubtitleParams, doc: Transcript | Translation,
          lang: str, media_info: dict, offset: float) -> tuple[list[Cue], dict, StyleProfile]:
    """The track's cues and QC report, with the style profile they were cut to."""
    profile = profile_for(params.style or lang, params.style_table or load_sections(),
                          {name: getattr(params, name) for name in PROFILE_FIELDS})
    fps, notes = frame_rate(media_info)
    regions = speech.load(request.inputs.get("speech"), offset)
    if regions is None:
        notes.append("no speech regions (no vad stage, and asr recorded none): cue ends "
                     "follow the word times and linger_s alone")
    checks = _language_checks(request, doc)
    cues, quality = make_cues(doc.segments, profile, fps, offset, lang, notes, regions,
                              media_end(media_info), params.unsubtitled_speech_s,
                              params.unreadable_cps, checks)
    return cues, quality, profile


def _write_subtitles(request: StageRequest, params: SubtitleParams, cues: list[Cue],
                     base: Path, profile: StyleProfile, is_source: bool
                     ) -> tuple[list[Path], dict[str, str], dict[str, str]]:
    """<base>.<fmt> for every format (and .bilingual.<fmt> for a target language with source
    text, when asked): (paths, format -> file, format -> bilingual file; job-relative)."""
    outputs: list[Path] = []
    files: dict[str, str] = {}
    bilingual: dict[str, str] = {}
    job_dir = request.job_dir.resolve()
    want_bilingual = params.bilingual and not is_source and any(c.source_text for c in cues)
    for fmt in params.formats:
        target = Path(f"{base}.{fmt}")
        atomic.write_text(target, formats.render(cues, fmt, title=request.title))
        outputs.append(target)
        files[fmt] = target.resolve().relative_to(job_dir).as_posix()
        if want_bilingual:
            both = Path(f"{base}.bilingual.{fmt}")
            atomic.write_text(both, formats.render(
                cues, fmt, title=request.title, bilingual=True,
                wrap_source=lambda text: wrap(text, profile.max_chars_per_line,
                                              profile.max_lines)))
            outputs.append(both)
            bilingual[fmt] = both.resolve().relative_to(job_dir).as_posix()
    if params.bilingual and not want_bilingual:
        logger.info("bilingual: only target languages with source text get a bilingual file")
    return outputs, files, bilingual


def process(request: StageRequest, state: Any) -> StageOutcome:
    params = request.params_as(SubtitleParams)
    is_source = request.lang in (None, "source")
    doc = transcript.load_any(Path(request.inputs["segments"]))
    media_info = json.loads(Path(request.inputs["media_info"]).read_text("utf-8"))
    offset = float(media_info.get("timeline_offset") or 0.0)
    lang, languages = _track_language(doc, is_source, request)
    cues, quality, profile = _cues(request, params, doc, lang, media_info, offset)
    for cue in cues:
        cue.language = cue.language if is_source and cue.language else lang
    quality["languages"] = cue_languages(cues, languages)
    qc.log_summary(quality)
    if len(languages) > 1:
        logger.info("languages: %s", ", ".join(f"{row['language']} {row['share']:.0%}"
                                                for row in languages))
    request.deliverables_dir.mkdir(parents=True, exist_ok=True)
    base = request.deliverables_dir / f"{safe_title(request.title)}.{lang}"
    outputs, files, bilingual = _write_subtitles(request, params, cues, base, profile,
                                                 is_source)
    if is_source and params.write_transcript and isinstance(doc, Transcript):
        outputs += _transcript(request, doc, lang, offset, base, cues, languages)
    iso639_2, name = _language_tags(lang)
    tracks = {"language": lang, "iso639_2": iso639_2, "name": name, "files": files,
              "cues": len(cues), "languages": languages}
    if bilingual and isinstance(doc, Translation):
        tracks.update(bilingual=bilingual, source_language=doc.source_language)
    atomic.write_json(request.output("qc.json"), quality)
    atomic.write_json(request.output("tracks.json"), tracks)
    outputs += [request.output("qc.json"), request.output("tracks.json")]
    if not cues:
        logger.warning("no speech was transcribed: the subtitle files are empty")
    logger.info("%d cues in %s (%s)", len(cues), lang,
                ", ".join(p.name for p in outputs if p.parent == request.deliverables_dir))
    left = {rule: row["after"] for rule, row in quality["rules"].items() if row["after"]}
    info = {"language": lang, "cues": len(cues), "qc_left": left}
    if len(languages) > 1:
        info["languages"] = {row["language"]: row["share"] for row in languages}
    if quality["untranslated"]["count"]:
        info["untranslated"] = quality["untranslated"]["count"]
    if quality["unsubtitled_speech"]["count"]:
        info["unsubtitled_speech_s"] = quality["unsubtitled_speech"]["total_s"]
    return StageOutcome(outputs=outputs, info=info,
                        degraded=_degraded(quality, doc, is_source, lang))
