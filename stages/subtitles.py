"""subtitles: timed segments -> SRT and WebVTT deliverables, plus the transcript as JSON and
plain text, in the job's subtitles/ folder. Times are shifted onto the media's timeline
(a clipped job's cues line up with the original file)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared import atomic
from shared.stage import StageOutcome, StageParams, StageRequest, StageSpec

logger = logging.getLogger(__name__)


class SubtitleParams(StageParams):
    max_chars_per_line: int = Field(42, ge=10, description="characters (reading units) per line")
    max_lines: int = Field(2, ge=1, le=3)
    max_duration: float = Field(7.0, gt=0, description="seconds a cue may stay on screen")
    min_duration: float = Field(5 / 6, ge=0, description="seconds a cue stays at least")
    formats: list[Literal["srt", "vtt"]] = Field(default_factory=lambda: ["srt", "vtt"])
    write_transcript: bool = Field(True, description="also write <title>.<lang>.json and .txt")


SPEC = StageSpec(
    name="subtitles",
    environment="common",
    version=1,
    params=SubtitleParams,
    inputs={"segments": ("alignment:aligned.json", "asr:segments.json"),
            "media_info": "demux:media_info.json"},
    outputs=(),
    description="write SRT / WebVTT subtitles and the transcript",
    code=("shared.cues",),
)

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_title(title: str) -> str:
    cleaned = _UNSAFE.sub("_", title).strip(" ._")
    return cleaned[:120] or "subtitles"


def process(request: StageRequest, state) -> StageOutcome:
    import pysubs2

    from shared.cues import build_cues

    params = request.params_as(SubtitleParams)
    data = json.loads(Path(request.inputs["segments"]).read_text("utf-8"))
    media_info = json.loads(Path(request.inputs["media_info"]).read_text("utf-8"))
    if request.lang in (None, "source"):
        lang = data.get("language") or "und"
    else:
        lang = request.lang
    offset = float(media_info.get("timeline_offset") or 0.0)
    segments = data.get("segments", [])
    cues = build_cues(segments, offset=offset, max_chars=params.max_chars_per_line,
                      max_lines=params.max_lines, max_duration=params.max_duration,
                      min_duration=params.min_duration)
    subs = pysubs2.SSAFile()
    for cue in cues:
        subs.append(pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000),
                                     text=cue.text.replace("\n", r"\N")))
    base = request.deliverables_dir / f"{safe_title(request.title)}.{lang}"
    outputs: list[Path] = []
    for fmt in params.formats:
        target = Path(f"{base}.{fmt}")
        atomic.write_text(target, subs.to_string(fmt))
        outputs.append(target)
    if params.write_transcript:
        transcript = {
            "title": request.title, "language": lang,
            "language_probability": data.get("language_probability"),
            "model": data.get("model"), "timeline_offset": offset,
            "segments": [{**s, "start": round(s["start"] + offset, 3),
                          "end": round(s["end"] + offset, 3),
                          "words": [{**w, "start": round(w["start"] + offset, 3),
                                     "end": round(w["end"] + offset, 3)}
                                    for w in s.get("words", [])]} for s in segments],
        }
        atomic.write_json(Path(f"{base}.json"), transcript)
        atomic.write_text(Path(f"{base}.txt"),
                          "".join(s["text"].strip() + "\n" for s in segments if s["text"].strip()))
        outputs += [Path(f"{base}.json"), Path(f"{base}.txt")]
    if not cues:
        logger.warning("no speech was transcribed: the subtitle files are empty")
    logger.info("%d cues in %s (%s)", len(cues), lang, ", ".join(p.name for p in outputs))
    return StageOutcome(outputs=outputs, info={"language": lang, "cues": len(cues)})


if __name__ == "__main__":
    from shared import stage_main

    stage_main.run(SPEC, process)
