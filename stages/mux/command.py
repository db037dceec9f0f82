"""Which container, and the ffmpeg command that muxes the tracks into it without
re-encoding the video or audio."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from shared import system_tools
from shared.stage import report_progress
from stages.mux.tracks import Track

# container -> (ffmpeg muxer, file extension)
MUXERS = {"mkv": ("matroska", "mkv"), "mp4": ("mp4", "mp4"), "mov": ("mov", "mov"),
          "webm": ("webm", "webm")}
# input extension -> the container a copy keeps; anything else cannot hold subtitle tracks
SUBTITLE_CONTAINERS = {".mkv": "mkv", ".mk3d": "mkv", ".mp4": "mp4", ".m4v": "mp4",
                       ".mov": "mov", ".webm": "webm"}
# subtitle file format -> ffmpeg demuxer
DEMUXERS = {"srt": "srt", "ass": "ass", "vtt": "webvtt"}
# container -> (subtitle file formats it takes, best first; -c:s for them)
NEW_TRACKS = {"mkv": (("srt", "ass"), "copy"), "mp4": (("srt", "vtt", "ass"), "mov_text"),
              "mov": (("srt", "vtt", "ass"), "mov_text"), "webm": (("vtt",), "copy")}
STREAM_CODEC = {"srt": "subrip", "ass": "ass", "vtt": "webvtt"}

# the input's own subtitle streams: what each container can copy, and the text encoder that
# converts the other text formats for it (bitmap subtitles it cannot copy are dropped)
_TEXT = {"subrip", "ass", "ssa", "webvtt", "mov_text", "text", "microdvd", "subviewer",
         "subviewer1", "sami", "realtext", "jacosub", "mpl2", "pjs", "stl", "vplayer"}
_COPY = {"mkv": {"subrip", "ass", "ssa", "webvtt", "dvd_subtitle", "hdmv_pgs_subtitle",
                 "dvb_subtitle"},
         "mp4": {"mov_text", "dvd_subtitle"}, "mov": {"mov_text"}, "webm": {"webvtt"}}
_TEXT_ENCODER = {"mkv": "srt", "mp4": "mov_text", "mov": "mov_text", "webm": "webvtt"}


def choose_container(media: Path, requested: str) -> tuple[str, str | None]:
    """(container, why it is not the input's) for the subtitled copy."""
    if requested != "auto":
        return requested, None
    suffix = media.suffix.lower()
    if suffix in SUBTITLE_CONTAINERS:
        return SUBTITLE_CONTAINERS[suffix], None
    return "mkv", (f"the input container ({suffix or 'no extension'}) cannot hold subtitle "
                   "tracks: writing MKV")


def existing_action(codec: str | None, container: str) -> str | None:
    """-c:s for one of the input's subtitle streams in ``container``: copy, an encoder, or
    None (it cannot go there)."""
    if codec in _COPY[container]:
        return "copy"
    if codec in _TEXT:
        return _TEXT_ENCODER[container]
    return None


@dataclass
class NewTrack:
    track: Track
    fmt: str  # srt / ass / vtt: the file muxed
    path: Path
    codec: str  # -c:s: copy or mov_text
    default: bool

    @property
    def stream_codec(self) -> str:
        return self.codec if self.codec != "copy" else STREAM_CODEC[self.fmt]


@dataclass
class MuxPlan:
    container: str
    tracks: list[NewTrack]
    existing: list[tuple[int, str, str]] = field(default_factory=list)  # index, codec, -c:s
    faststart: bool = True

    @property
    def extension(self) -> str:
        return MUXERS[self.container][1]


def plan_tracks(tracks: list[Track], default: int, container: str,
                mkv_format: str) -> list[NewTrack] | None:
    """Each track's file and codec in ``container``; None when a track has no file the
    container takes (WebM without a .vtt)."""
    formats, codec = NEW_TRACKS[container]
    if container == "mkv":
        formats = (mkv_format, *(f for f in formats if f != mkv_format))
    planned = []
    for index, track in enumerate(tracks):
        found = track.file(formats)
        if found is None:
            return None
        planned.append(NewTrack(track, found[0], found[1], codec, index == default))
    return planned


def mux_command(ffmpeg: str, media: Path, plan: MuxPlan, output: Path) -> list[str]:
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(media)]
    for new in plan.tracks:
        cmd += ["-f", DEMUXERS[new.fmt], "-i", str(new.path)]
    cmd += ["-map", "0:v", "-map", "0:a?"]
    cmd += [arg for index, _, _ in plan.existing for arg in ("-map", f"0:{index}")]
    if plan.container == "mkv":
        cmd += ["-map", "0:t?"]  # fonts attached for ASS subtitles
    cmd += [arg for n in range(len(plan.tracks)) for arg in ("-map", f"{n + 1}:0")]
    cmd += ["-map_metadata", "0", "-map_chapters", "0", "-c", "copy"]
    for n, (_, _, action) in enumerate(plan.existing):
        # the input's streams keep their other flags (forced, hearing impaired), not default
        cmd += [f"-c:s:{n}", action, f"-disposition:s:{n}", "-default"]
    for n, new in enumerate(plan.tracks, start=len(plan.existing)):
        cmd += [f"-c:s:{n}", new.codec,
                f"-metadata:s:s:{n}", f"language={new.track.iso639_2}",
                f"-metadata:s:s:{n}", f"title={new.track.name}",
                f"-disposition:s:{n}", "default" if new.default else "0"]
        if plan.container in ("mp4", "mov"):  # MP4/MOV players show the handler name
            cmd += [f"-metadata:s:s:{n}", f"handler_name={new.track.name}"]
    if plan.container in ("mp4", "mov") and plan.faststart:
        cmd += ["-movflags", "+faststart"]
    return cmd + ["-f", MUXERS[plan.container][0], str(output)]


def probe_streams(path: Path) -> list[dict]:
    """ffprobe's stream list (every kind, subtitles included)."""
    proc = subprocess.run(
        [system_tools.require("ffprobe"), "-v", "error", "-print_format", "json",
         "-show_streams", str(path)], capture_output=True, text=True, encoding="utf-8",
        errors="replace")
    if proc.returncode != 0:
        return []
    return json.loads(proc.stdout or "{}").get("streams", [])


def run_ffmpeg(cmd: list[str], duration: float | None, note: str,
               cwd: Path | None = None) -> tuple[int, list[str]]:
    """Run ffmpeg, reporting progress from ``-progress``; return (exit code, last lines of
    its error output)."""
    cmd = [*cmd[:1], "-progress", "pipe:1", "-nostats", *cmd[1:]]
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True,
                                encoding="utf-8", errors="replace", cwd=cwd)
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and duration and value.isdigit():
                report_progress(min(int(value) / 1e6, duration), duration, note)
        returncode = proc.wait()
        errors.seek(0)
        lines = [line.strip() for line in errors.read().splitlines() if line.strip()]
    return returncode, lines[-10:]
