"""mux: every subtitle track of the job as a soft track in a copy of the video (common venv).

The contract (Params, SPEC) is here; the work is in run.py.

ffmpeg copies the video and audio streams (no re-encoding) and adds one subtitle stream per
subtitles stage instance, in workflow order (source language first, then the targets), each
tagged with its ISO 639-2 language (hin, eng, guj ...) and titled with the language's name;
exactly one is marked default. The container is the input's when it can hold subtitle tracks
(MKV: SRT or ASS tracks; MP4/MOV: mov_text; WebM: WebVTT), otherwise MKV, with a message.
The copy is written to a temporary name in the job folder and renamed on success, as
``<title>.subtitled.<ext>``; a file already at that name that this stage did not write (the
stage records the sha256 of what it wrote in ``mux_manifest.json``) is never overwritten: the
copy gets a new name (``<title>.subtitled.1.mkv``). The original media is only read.
Audio-only input: nothing to mux, the stage succeeds with no outputs (the subtitle files are
the deliverable). Optionally one language is burned into the picture (re-encoded with
libx264) as a separate ``<title>.burned-in.<lang>.mp4``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.stage import StageParams, StageSpec


class MuxParams(StageParams):
    container: Literal["auto", "mkv", "mp4", "mov", "webm"] = Field(
        "auto", description="container of the subtitled copy; auto: the input's when it can "
        "hold subtitle tracks (mkv, mp4/m4v, mov, webm), else mkv. A container that cannot "
        "take the input's streams falls back to mkv, with a message")
    mkv_subtitle_format: Literal["srt", "ass"] = Field(
        "srt", description="subtitle track format in MKV: srt (every player) or ass (keeps "
        "styles such as italic song lyrics). MP4/MOV always get mov_text, WebM WebVTT")
    default_language: str | None = Field(
        None, description="language of the track marked default (ISO 639-1 or 639-2: en, "
        "eng); default: the first target language, or the source when there is no target")
    keep_existing_subtitles: bool = Field(
        True, description="keep the subtitle streams the input already has (after the new "
        "ones lose their default flag); false drops them")
    faststart: bool = Field(
        True, description="MP4/MOV: move the index to the front so playback starts before "
        "the whole file is read (a second pass over the output)")
    burn_in: str | None = Field(
        None, description="also write a copy with this language's subtitles burned into the "
        "picture (re-encoded with libx264): <title>.burned-in.<lang>.mp4; default: none")
    burn_in_crf: int = Field(
        20, ge=0, le=51, description="libx264 quality of the burned-in copy (lower is better "
        "and bigger; 18-23 is usual)")
    burn_in_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                            "slow", "slower", "veryslow"] = Field(
        "medium", description="libx264 speed/size trade-off of the burned-in copy")
    burn_in_fonts_dir: Path | None = Field(
        None, description="extra folder of fonts for burning in (e.g. Noto Sans Devanagari) "
        "when the system has none for the language; default: system fonts only")


def disk_estimate(params: MuxParams, seconds: float, media_bytes: int) -> float:
    """A copy of the video with the subtitle tracks (a burned-in copy is about as large)."""
    return float(media_bytes) * (2 if params.burn_in else 1)


SPEC = StageSpec(
    name="mux",
    version=1,
    params=MuxParams,
    inputs={"media": "job:media", "media_info": "demux:media_info.json",
            "tracks": "subtitles:tracks.json*"},
    outputs=(),
    description="mux every subtitle track into a copy of the video (no re-encoding)",
    environments=("common",),
    process="stages.mux.run:process",
    disk_estimate=disk_estimate,
)
