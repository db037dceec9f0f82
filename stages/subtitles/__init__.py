"""subtitles: timed segments -> subtitle files that follow professional timing and line rules,
one instance per language (common venv).

The contract (Params, SPEC, resolve) is here; the work is in run.py, in small modules:
style.py (profiles from config/subtitle_styles.toml), text.py (graphemes, punctuation,
conjunctions, names), wrapping.py (line breaks), segmentation.py (segments -> cues),
speech.py (speech regions), timing.py (the fixing pass at the video's frame rate), qc.py (the
quality report), formats.py (SRT / WebVTT / ASS with pysubs2, escaping).

Input: the source language's word-timed segments (alignment, or asr for jobs without it), or
a target language's translated segments (one per source segment, no word times: each keeps
its segment's time and long text is split over it in proportion to its length). Outputs:
``<title>.<lang>.srt|vtt|ass`` in the job's subtitles/ folder (``<title>.<lang>.bilingual.*``
with source over target when asked), the transcript as .json and .txt for the source
language, and in the stage folder ``qc.json`` (the quality report) and ``tracks.json`` (the
files and language tags the mux stage needs). A source track in several languages (asr's
per-region decoding) is named after the language with the most speech; tracks.json and
qc.json list every language it holds with its share, and each cue keeps its segment's
language (cues of different languages are never merged). Times are on the media's timeline.
Optional input ``speech``: where the speech is (the vad stage's regions, else asr's
``speech_regions``); word times are clipped to it and a cue's linger ends with it
(speech.py), so cue ends follow the speech, and speech no cue shows for longer than
``unsubtitled_speech_s`` is a QC flag (qc.json's ``unsubtitled_speech``) and, on the source
track, a degraded reason. No cue ends after the audio does (media_info.json's duration).
Optional input ``source``: the transcript the translation started from (songs' / alignment's /
asr's segments.json); on a target track, the cues of every line whose source segment overlaps
a region asr's language check left doubtful are flagged ``doubtful_language`` too (the
translation of doubtful text is doubtful; qc.json only: the source track degrades the job).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.stage import ResolveContext, StageParams, StageSpec


class SubtitleParams(StageParams):
    style: str | None = Field(
        None, description="style profile (a section of config/subtitle_styles.toml); "
        "default: the language's, else [styles.default]")
    max_chars_per_line: int | None = Field(
        None, ge=4, description="characters (grapheme clusters) per line; default: profile's")
    max_lines: int | None = Field(None, ge=1, le=4, description="lines per cue")
    max_cps: float | None = Field(None, gt=0, description="reading speed limit, characters "
                                  "per second")
    min_duration: float | None = Field(None, ge=0, description="seconds a cue stays at least")
    max_duration: float | None = Field(None, gt=0, description="seconds a cue stays at most")
    min_gap_frames: int | None = Field(None, ge=0, description="frames between cues at least")
    close_gap_frames: int | None = Field(
        None, ge=0, description="gaps shorter than this many frames are closed to the minimum")
    linger_s: float | None = Field(
        None, ge=0, description="seconds a cue may stay after its speech when there is room, "
        "never past the end of the speech region the VAD found there")
    merge_below_s: float | None = Field(
        None, ge=0, description="neighbouring cues shorter than this are merged if they fit")
    unsubtitled_speech_s: float = Field(
        3.0, ge=0, description="a stretch of speech (the speech regions) longer than this many "
        "seconds with no cue on screen is listed in qc.json, and on the source track makes the "
        "job degraded (speech the transcript left out); 0: not checked")
    unreadable_cps: float = Field(
        50.0, ge=0, description="a cue over this many characters a second, after the fixing "
        "pass, cannot be read at all and makes the job degraded (over the style's max_cps it "
        "is a qc.json flag only); above asr's hallucination limit (35: not speech), so such a "
        "cue is a timing failure. A cue under min_duration that the pass could not lengthen "
        "is degraded too. 0: reading speed not checked")
    formats: list[Literal["srt", "vtt", "ass"]] = Field(
        default_factory=lambda: ["srt", "vtt", "ass"])
    bilingual: bool = Field(
        False, description="target languages: also write <title>.<lang>.bilingual.* with the "
        "source text over the translation")
    write_transcript: bool = Field(
        True, description="source language: also write <title>.<lang>.json and .txt")
    style_table: dict[str, dict[str, float | int]] = Field(
        default_factory=dict, description="set by resolve, not by users, when the language is "
        "detected at run time: config/subtitle_styles.toml's sections, so editing them re-runs "
        "the stage")


PROFILE_FIELDS = ("max_chars_per_line", "max_lines", "max_cps", "min_duration", "max_duration",
                  "min_gap_frames", "close_gap_frames", "linger_s", "merge_below_s")


def resolve(params: SubtitleParams, ctx: ResolveContext) -> SubtitleParams:
    """Fill the profile's values in (so the plan says "params.max_cps 22->17" and the
    fingerprint sees edits to config/subtitle_styles.toml). While the spoken language is still
    to be detected, record the style sections instead; the stage picks one when it knows."""
    from stages.subtitles.style import load_sections, profile_for, sections_for

    language = ctx.lang if ctx.lang not in (None, "source") else ctx.job.source_lang
    language = params.style or (None if language in (None, "auto") else language)
    sections = load_sections()
    if language is None:
        return params.model_copy(update={"style_table": sections_for(None, sections)})
    overrides = {name: getattr(params, name) for name in PROFILE_FIELDS}
    profile = profile_for(language, sections, overrides)
    return params.model_copy(update={**profile.model_dump(), "style_table": {}})


SPEC = StageSpec(
    name="subtitles",
    version=4,
    params=SubtitleParams,
    inputs={"segments": ("translation_llm:segments.json", "translation:segments.json",
                         "songs:segments.json", "alignment:aligned.json", "asr:segments.json"),
            "media_info": "demux:media_info.json",
            "speech": ("vad:speech_segments.json?", "asr:segments.json?"),
            "source": ("songs:segments.json?", "alignment:aligned.json?",
                       "asr:segments.json?")},
    outputs=("tracks.json", "qc.json"),
    description="segment, time, check and write SRT / WebVTT / ASS subtitles",
    environments=("common",),
    resolve=resolve,
    process="stages.subtitles.run:process",
)
