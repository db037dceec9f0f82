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


def tag_duration(tags: dict) -> float | None:
    """A Matroska stream's DURATION tag in seconds ('00:09:10.562000000'; ffprobe gives
    Matroska streams no duration of their own), None when absent or unreadable. Without it a
    track that ends before the video (a dub shorter than the film) would be measured against
    the container's length and called cut short."""
    text = next((v for k, v in tags.items() if k.upper().split("-")[0] == "DURATION"), None)
    try:
        hours, minutes, seconds = str(text).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (TypeError, ValueError):
        return None


def _tag_length(tags: dict, stream: dict) -> float | None:
    """A Matroska stream's length: its DURATION tag is where the stream ends on the file's
    timeline (ffmpeg writes the last packet's end), so a track that starts late is shorter."""
    end = tag_duration(tags)
    return None if end is None else max(0.0, end - (_float(stream.get("start_time")) or 0.0))


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
                duration=_float(stream.get("duration")) or _tag_length(tags, stream),
                default=bool(disposition.get("default"))))
    return info


def track_language(tag: str | None) -> str | None:
    """A stream's language tag as the language table's key ('hin' -> 'hi'); None when the
    stream is untagged, tagged 'und'/'mul'/'zxx', or tagged with a code the table lacks."""
    from shared.languages import load_languages

    if not tag or tag.lower() in ("und", "mul", "zxx", "mis"):
        return None
    try:
        return load_languages().normalize(tag)
    except InputError:
        return None


def describe_tracks(info: MediaInfo) -> str:
    """'1 hin (default), 2 eng, 3 untagged': the audio streams by ffprobe index."""
    return ", ".join(f"{s.index} {s.language or 'untagged'}{' (default)' if s.default else ''}"
                     f"{f' {s.title!r}' if s.title else ''}" for s in info.audio_streams)


def pick_audio_stream(info: MediaInfo, index: int | None = None, language: str | None = None,
                      spoken: str | None = None) -> AudioStream:
    """The audio stream a job transcribes: ``index`` (demux.audio_stream) if given; else the
    first tagged ``language`` (demux.audio_language); else, on a file with several audio
    tracks, the one tagged with the language the job says is spoken (``spoken``, -s; None for
    -s auto); else the default stream, else the first. Raises InputError, naming the tracks and
    the fix, where the choice would be untrue: an index or language the file lacks, or a file
    whose tracks are all tagged with languages and none is the spoken one (a Hindi film with
    Tamil and Telugu dubs prepared with -s ml would transcribe a dub as Malayalam)."""
    streams = info.audio_streams
    if not streams:
        raise InputError(f"{info.path} has no audio stream",
                         fix="choose a file with sound; check it with `ffprobe FILE`")
    name, tracks = info.path.name, f"its audio tracks: {describe_tracks(info)}"
    choose = "prepare the job with --set demux.audio_stream=INDEX (an index above)"
    if index is not None:
        found = next((s for s in streams if s.index == index), None)
        if found is None:
            raise InputError(f"{name} has no audio stream {index}; {tracks}", fix=choose)
        return found
    wanted = language or spoken
    if language is not None or (wanted is not None and len(streams) > 1):
        key = track_language(wanted) or wanted.lower()
        found = next((s for s in streams if track_language(s.language) == key
                      or (s.language or "").lower() == wanted.lower()), None)
        if found is not None:
            return found
        if language is not None:
            raise InputError(f"no audio track of {name} is tagged {language}; {tracks}",
                             fix=f"{choose}, or drop demux.audio_language")
        if all(track_language(s.language) for s in streams):
            raise InputError(f"the job says the speech is '{spoken}' but no audio track of "
                             f"{name} is tagged so; {tracks}",
                             fix=f"{choose}, or give the language of the track to transcribe "
                             "with -s (or -s auto)")
    return next((s for s in streams if s.default), streams[0])
