"""What is inside a media file, according to ffprobe."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from shared import system_tools
from shared.errors import InputError

MEDIA_EXTENSIONS = {
    ".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".ts", ".mts", ".m2ts", ".wmv", ".flv",
    ".mpg", ".mpeg", ".3gp", ".ogv",
    ".mp3", ".wav", ".flac", ".m4a", ".aac", ".ogg", ".opus", ".wma", ".aiff", ".aif", ".mka",
}


class AudioStream(BaseModel):
    index: int
    codec: str | None = None
    channels: int | None = None
    sample_rate: int | None = None
    language: str | None = None
    title: str | None = None
    start_time: float = 0.0
    duration: float | None = None
    default: bool = False


class MediaInfo(BaseModel):
    path: Path
    format_name: str | None = None
    duration: float | None = None
    start_time: float = 0.0
    has_video: bool = False
    video_fps: float | None = None
    variable_frame_rate: bool = False  # the average rate differs from the stream's base rate
    audio_streams: list[AudioStream] = Field(default_factory=list)


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fps(rate: str | None) -> float | None:
    if not rate or rate in ("0/0", "0"):
        return None
    num, _, den = rate.partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None


def repair_fix(path: Path, readable: bool = True) -> str:
    """What to do about a damaged or unreadable media file: get a whole copy again, or (when
    ffmpeg reads its streams, ``readable``) the command that re-encodes what it can decode
    into a clean copy next to it (the user's file is left as it is)."""
    again = ("check the file plays in a media player to its end (an interrupted download or "
             "copy is the usual cause) and copy, download or export it again")
    if not readable:
        return again
    fixed = path.with_name(f"{path.stem}.fixed.mkv")  # Matroska holds any video with AAC
    command = ["ffmpeg", "-i", str(path), "-map", "0:v?", "-map", "0:a", "-c:v", "copy",
               "-c:a", "aac", str(fixed)]
    return (f"{again}; or re-encode what ffmpeg can decode of it: {shlex.join(command)}, "
            "then prepare a job with that file")


def probe(path: Path) -> MediaInfo:
    """Streams, duration and start times; raise InputError if ffprobe cannot read it."""
    ffprobe = system_tools.require("ffprobe")
    proc = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)], capture_output=True, text=True, encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise InputError(f"{path} is not a media file ffprobe can read ({detail})",
                         fix=repair_fix(path, readable=False))
    data = json.loads(proc.stdout or "{}")
    fmt = data.get("format", {})
    info = MediaInfo(path=path, format_name=fmt.get("format_name"),
                     duration=_float(fmt.get("duration")),
                     start_time=_float(fmt.get("start_time")) or 0.0)
    for stream in data.get("streams", []):
        kind = stream.get("codec_type")
        disposition = stream.get("disposition", {})
        if kind == "video" and not disposition.get("attached_pic"):
            first = not info.has_video
            info.has_video = True
            avg, base = _fps(stream.get("avg_frame_rate")), _fps(stream.get("r_frame_rate"))
            info.video_fps = info.video_fps or avg or base
            if first and avg and base and abs(avg - base) / base > 0.01:
                info.variable_frame_rate = True
        elif kind == "audio":
            tags = stream.get("tags", {})
            info.audio_streams.append(AudioStream(
                index=stream["index"], codec=stream.get("codec_name"),
                channels=stream.get("channels"),
                sample_rate=int(stream["sample_rate"]) if stream.get("sample_rate") else None,
                language=tags.get("language"), title=tags.get("title"),
                start_time=_float(stream.get("start_time")) or 0.0,
                duration=_float(stream.get("duration")),
                default=bool(disposition.get("default"))))
    return info
