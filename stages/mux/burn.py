"""Burn one language's subtitles into the picture (a re-encode with libx264 and libass).

The subtitle file is copied under a plain name into a scratch folder that ffmpeg runs in, so
its path never appears in the filter graph (a path with ``: ' , [ ]`` or a Windows drive
letter needs two levels of escaping there); the optional fonts folder does appear, escaped
by ``filter_value``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from shared import system_tools
from stages.mux.tracks import Track

logger = logging.getLogger(__name__)

# audio codecs an MP4 holds as they are; others are re-encoded to AAC
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac"}
SCRATCH_NAME = "burn-in.{fmt}"


def filter_value(value: str) -> str:
    """``value`` escaped for a filter option inside an ffmpeg filter graph: first for the
    option parser (``\\ ' :``), then for the graph parser (``\\ ' [ ] , ;``)."""
    for char in "\\':":
        value = value.replace(char, "\\" + char)
    out = value.replace("\\", "\\\\")
    for char in "'[],;":
        out = out.replace(char, "\\" + char)
    return out


def warn_if_no_font(track: Track, fonts_dir: Path | None) -> None:
    """libass draws boxes for a script no installed font covers: say so before encoding."""
    fc_list = shutil.which("fc-list")
    if fonts_dir or not fc_list:
        return
    proc = subprocess.run([fc_list, f":lang={track.language}", "family"], capture_output=True,
                          text=True)
    if proc.returncode == 0 and not proc.stdout.strip():
        package = system_tools.FONT_PACKAGES.get(track.language, "fonts-noto-core")
        logger.warning("no installed font covers %s: the burned-in text may show as boxes. "
                       "Install one (Debian/Ubuntu: sudo apt-get install %s) or "
                       "--set mux.burn_in_fonts_dir=<folder of .ttf/.otf>", track.name, package)


def prepare_scratch(scratch: Path, track: Track) -> str:
    """Copy the track's ASS (styles kept) or SRT file into ``scratch``; return its name."""
    found = track.file(("ass", "srt", "vtt"))
    if found is None:
        raise ValueError(f"the {track.name} track has no subtitle file to burn in")
    fmt, path = found
    scratch.mkdir(parents=True, exist_ok=True)
    name = SCRATCH_NAME.format(fmt=fmt)
    shutil.copyfile(path, scratch / name)
    return name


def burn_command(ffmpeg: str, media: Path, subtitle_name: str, output: Path,
                 audio_codecs: list[str | None], crf: int, preset: str,
                 fonts_dir: Path | None) -> list[str]:
    """ffmpeg command (run in the scratch folder) that writes an H.264 MP4 with the subtitles
    drawn in; the audio is copied when MP4 holds its codec."""
    vf = f"subtitles=filename={subtitle_name}"
    if fonts_dir:
        vf += f":fontsdir={filter_value(str(Path(fonts_dir).resolve()))}"
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(media),
           "-map", "0:v:0", "-map", "0:a?", "-map_metadata", "0", "-map_chapters", "0",
           "-vf", vf, "-c:v", "libx264", "-crf", str(crf), "-preset", preset,
           "-pix_fmt", "yuv420p"]
    copy_audio = audio_codecs and all(codec in MP4_AUDIO for codec in audio_codecs)
    cmd += ["-c:a", "copy"] if copy_audio else ["-c:a", "aac", "-b:a", "192k"]
    return cmd + ["-movflags", "+faststart", "-f", "mp4", str(output)]
