"""demux: the media file's audio as a 16 kHz mono WAV on the media's own timeline.

ffmpeg streams the file (a film of several hours never sits in memory). The audio stream's
start offset is kept: if the audio starts 1.5 s into the video, the WAV starts with 1.5 s of
silence, so every later timestamp is a video timestamp. With a clip (--start-time/--end-time)
the WAV starts at the clip and ``timeline_offset`` says how far into the media that is.

A job with source separation (prepare-job --separate) also gets ``audio_44k.wav``, 44.1 kHz
stereo for Demucs, from the same ffmpeg pass (a second output of one command) with the same
clip and padding, so both files share one timeline: mono is upmixed, 5.1 downmixed.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import wave
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared import atomic
from shared.stage import (
    ResolveContext,
    StageOutcome,
    StageParams,
    StageRequest,
    StageSpec,
)

logger = logging.getLogger(__name__)


class DemuxParams(StageParams):
    sample_rate: int = Field(16000, description="output sample rate (Whisper and VAD need 16 kHz)")
    audio_stream: int | None = Field(
        None, description="ffprobe stream index of the audio to use; default: the default "
        "stream, else the first")
    audio_language: str | None = Field(
        None, description="pick the first audio stream tagged with this language (e.g. hin)")
    spoken_language: str | None = Field(
        None, description="the job's source language (-s; from the job): on a file with several "
        "audio tracks, the one tagged with it is used; None: the default track")
    start_time: float | None = Field(None, description="clip start in seconds (from the job)")
    end_time: float | None = Field(None, description="clip end in seconds (from the job)")
    channel: Literal["mix", "left", "right"] = Field(
        "mix", description="which channel of a stereo stream feeds VAD/ASR: the mix, or one "
        "side (a recording with one speaker per channel)")
    stereo_44k: bool = Field(
        False, description="also write audio_44k.wav (44.1 kHz stereo, for source separation); "
        "on for jobs prepared with --separate")


STEREO_44K = "audio_44k.wav"
STEREO_RATE = 44100


def resolve(params: DemuxParams, ctx: ResolveContext) -> DemuxParams:
    several = (ctx.job.media.audio_streams or 0) > 1  # one track: params as before
    return params.model_copy(update={
        "spoken_language": ctx.job.source_lang if several and ctx.job.source_lang != "auto"
        else None,
        "start_time": ctx.job.start_time, "end_time": ctx.job.end_time,
        "stereo_44k": params.stereo_44k or "separation" in ctx.job.features})


def disk_estimate(params: DemuxParams, seconds: float, media_bytes: int) -> float:
    """audio_16k.wav (16-bit mono), and audio_44k.wav (16-bit stereo) with separation."""
    return seconds * (2 * 16000 + (4 * STEREO_RATE if params.stereo_44k else 0))


SPEC = StageSpec(
    name="demux",
    version=1,
    params=DemuxParams,
    inputs={"media": "job:media"},
    outputs=("audio_16k.wav", "media_info.json"),
    description="extract the audio track as 16 kHz mono WAV",
    environments=("common",),
    resolve=resolve,
    process="stages.demux:process",
    disk_estimate=disk_estimate,
)


def process(request: StageRequest, state) -> StageOutcome:
    from shared import media, system_tools

    params = request.params_as(DemuxParams)
    ffmpeg = system_tools.require("ffmpeg")
    source = Path(request.inputs["media"])
    info = media.probe(source)
    stream = media.pick_audio_stream(info, params.audio_stream, params.audio_language,
                                     params.spoken_language)
    start = params.start_time or 0.0
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if start > 0:
        cmd += ["-ss", f"{start:.3f}"]
    cmd += ["-i", str(source)]
    wav = request.output("audio_16k.wav")
    outputs = [(wav, 1, params.sample_rate)]
    if params.stereo_44k:
        outputs.append((request.output(STEREO_44K), 2, STEREO_RATE))
    with contextlib.ExitStack() as stack:
        for target, channels, rate in outputs:
            tmp = stack.enter_context(atomic.atomic_path(target))
            cmd += [*_output_options(stream.index, start, params.end_time, channels, rate,
                                     params.channel), str(tmp)]
        returncode, errors, decode_errors = run_ffmpeg(cmd)
        if returncode != 0:
            raise _unreadable(source, returncode, errors)
    duration = _wav_duration(wav)
    located = locate_decode_errors(source, stream.index) if decode_errors else []
    damage = damaged(source, decode_errors, located, duration,
                     _expected_length(info, stream, start, params.end_time))
    audio_offset = max(0.0, stream.start_time - info.start_time)
    media_info = {
        "source": str(source),
        "has_video": info.has_video,
        "video_fps": info.video_fps,
        "variable_frame_rate": info.variable_frame_rate,
        "media_duration": info.duration,
        "audio_stream": stream.model_dump(),
        "audio_streams": len(info.audio_streams),
        "audio_start_offset": round(audio_offset, 3),
        "timeline_offset": start,
        "channel": params.channel,
        "decode_errors": {"count": len(decode_errors),
                          "at": [{"time": round(t, 3), "message": m} for t, m in located]},
        "sample_rate": params.sample_rate,
        "duration": round(duration, 3),
    }
    if params.stereo_44k:
        media_info["stereo_44k"] = {"file": STEREO_44K, "sample_rate": STEREO_RATE,
                                    "channels": 2,
                                    "duration": round(_wav_duration(outputs[1][0]), 3)}
    atomic.write_json(request.output("media_info.json"), media_info)
    logger.info("audio stream %d (%s, %s ch, lang %s): %.1f s of audio, offset %.3f s",
                stream.index, stream.codec, stream.channels, stream.language or "-", duration,
                audio_offset)
    return StageOutcome(outputs=[*(target for target, _, _ in outputs),
                                 request.output("media_info.json")],
                        info={"duration": round(duration, 3), "stream": stream.index},
                        degraded=damage)


def _unreadable(source: Path, returncode: int, errors: list[str]):
    """ffmpeg failed on a file ffprobe read: the error, with getting the file again as the fix
    (no re-encode: ffmpeg just failed to read it)."""
    from shared.errors import PipelineError
    from shared.media import repair_fix

    return PipelineError(f"ffmpeg could not read the audio of {source} (exit {returncode}): "
                         + " | ".join(errors[-5:]), fix=repair_fix(source, readable=False))


SHORT_BY_S = 1.0  # audio this much shorter than the file says: the file ends early


def _expected_length(info, stream, start: float, end_time: float | None) -> float | None:
    """How long the audio should be by the file's own header (the stream's length, else the
    container's, plus the stream's offset), cut to the clip; None when it does not say."""
    declared = stream.duration + max(0.0, stream.start_time - info.start_time) \
        if stream.duration else info.duration
    if declared is None:
        return None
    return (min(declared, end_time) if end_time is not None else declared) - start


def damaged(source: Path, decode_errors: list[str], located: list[tuple[float, str]],
            duration: float, expected: float | None) -> list[str]:
    """A damaged file ffmpeg went on over. Frames it could not decode become silence: a
    warning with their times (a glitch of a few frames is common in rips and loses a syllable
    at most). Audio that stops before the length the file declares (a truncated file: the
    speech after it is missing) is a degraded reason. Each names the fix."""
    from shared.media import repair_fix

    if decode_errors:
        where = ", ".join(_clock(t) for t, _ in located[:5]) or "unknown"
        logger.warning("ffmpeg could not decode %d frame(s) of %s (%s) at %s: it skipped them "
                       "and went on; if speech is missing there, %s", len(decode_errors),
                       source.name, decode_errors[0], where, repair_fix(source))
    if expected is None or duration >= expected - SHORT_BY_S:
        return []
    reason = (f"the audio of {source.name} stops at {_clock(duration)} but the file says it "
              f"lasts {_clock(expected)}: the file is cut short, the rest has no subtitles")
    logger.warning("%s", reason)
    return [f"{reason}; fix: {repair_fix(source)}"]
def _output_options(stream_index: int, start: float, end_time: float | None, channels: int,
                    rate: int, channel: str = "mix") -> list[str]:
    """ffmpeg options of one WAV output (each output of the command carries its own)."""
    options = ["-map", f"0:{stream_index}", "-vn", "-sn", "-dn"]
    if end_time is not None:
        options += ["-t", f"{end_time - start:.3f}"]
    # first_pts=0 pads the gap between the timeline start and the first audio sample with
    # silence (an audio track that starts late), so WAV time == media time (minus the clip).
    # -ac: mono is duplicated to stereo, 5.1 downmixed with ffmpeg's standard matrix.
    filters = "aresample=async=1:first_pts=0"
    if channels == 1 and channel != "mix":
        filters += f",pan=mono|c0={'c0' if channel == 'left' else 'c1'}"
    return options + ["-af", filters, "-ac", str(channels),
                      "-ar", str(rate), "-c:a", "pcm_s16le", "-map_metadata", "-1", "-bitexact",
                      "-f", "wav"]


def run_ffmpeg(cmd: list[str]) -> tuple[int, list[str], list[str]]:
    """Run ffmpeg; return (exit code, its last error lines, its decode errors). ffmpeg skips
    a corrupt frame and goes on (the gap becomes silence): the stage reports it."""
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8",
                          errors="replace")
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    decode_errors = [line for line in lines if "decoding" in line or "Header missing" in line
                     or "corrupt" in line.lower() or "Invalid data" in line]
    return proc.returncode, lines[-20:], decode_errors


def locate_decode_errors(source: Path, stream_index: int,
                         limit: int = 20) -> list[tuple[float, str]]:
    """Where in the media each decode error happens: ffprobe decodes the stream frame by frame
    with its errors in the same ordered output, so an error sits right after the last frame
    that decoded. Run only after ffmpeg reported errors."""
    from shared import system_tools

    proc = subprocess.run(
        [system_tools.require("ffprobe"), "-v", "error", "-select_streams", str(stream_index),
         "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(source)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
        errors="replace")
    found, last = [], 0.0
    for line in proc.stdout.splitlines():
        line = line.strip().rstrip(",")
        try:
            last = float(line)
            continue
        except ValueError:
            pass
        if line and (not found or found[-1][0] != last):
            found.append((last, line))
            if len(found) >= limit:
                break
    return found


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{secs:05.2f}"


def _wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes() / handle.getframerate()

