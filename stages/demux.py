"""demux: the media file's audio as a 16 kHz mono WAV on the media's own timeline.

ffmpeg streams the file (a film of several hours never sits in memory). The audio stream's
start offset is kept: if the audio starts 1.5 s into the video, the WAV starts with 1.5 s of
silence, so every later timestamp is a video timestamp. With a clip (--start-time/--end-time)
the WAV starts at the clip and ``timeline_offset`` says how far into the media that is.
"""

from __future__ import annotations

import logging
import subprocess
import wave
from pathlib import Path

from pydantic import Field

from shared import atomic
from shared.stage import StageOutcome, StageParams, StageRequest, StageSpec

logger = logging.getLogger(__name__)


class DemuxParams(StageParams):
    sample_rate: int = Field(16000, description="output sample rate (Whisper and VAD need 16 kHz)")
    audio_stream: int | None = Field(
        None, description="ffprobe stream index of the audio to use; default: the default "
        "stream, else the first")
    audio_language: str | None = Field(
        None, description="pick the first audio stream tagged with this language (e.g. hin)")
    start_time: float | None = Field(None, description="clip start in seconds (from the job)")
    end_time: float | None = Field(None, description="clip end in seconds (from the job)")


SPEC = StageSpec(
    name="demux",
    environment="common",
    version=1,
    params=DemuxParams,
    inputs={"media": "job:media"},
    outputs=("audio_16k.wav", "media_info.json"),
    description="extract the audio track as 16 kHz mono WAV",
    code=("shared.media",),
)


def resolve(params: DemuxParams, ctx) -> DemuxParams:
    return params.model_copy(update={"start_time": ctx.job.start_time,
                                     "end_time": ctx.job.end_time})


def _pick_stream(info, params: DemuxParams):
    from shared.errors import InputError

    streams = info.audio_streams
    if not streams:
        raise InputError(f"{info.path} has no audio stream",
                         fix="choose a file with sound; check it with `ffprobe FILE`")
    if params.audio_stream is not None:
        for stream in streams:
            if stream.index == params.audio_stream:
                return stream
        raise InputError(f"audio stream {params.audio_stream} not found in {info.path}; it has "
                         f"{[s.index for s in streams]}",
                         fix="prepare-job.sh --set demux.audio_stream=<index>")
    if params.audio_language:
        for stream in streams:
            if (stream.language or "").lower() == params.audio_language.lower():
                return stream
        logger.warning("no audio stream tagged %s; using the default one",
                       params.audio_language)
    return next((s for s in streams if s.default), streams[0])


def process(request: StageRequest, state) -> StageOutcome:
    from shared import media, system_tools

    params = request.params_as(DemuxParams)
    ffmpeg = system_tools.require("ffmpeg")
    source = Path(request.inputs["media"])
    info = media.probe(source)
    stream = _pick_stream(info, params)
    start = params.start_time or 0.0
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if start > 0:
        cmd += ["-ss", f"{start:.3f}"]
    cmd += ["-i", str(source), "-map", f"0:{stream.index}", "-vn", "-sn", "-dn"]
    if params.end_time is not None:
        cmd += ["-t", f"{params.end_time - start:.3f}"]
    # first_pts=0 pads the gap between the timeline start and the first audio sample with
    # silence (an audio track that starts late), so WAV time == media time (minus the clip).
    cmd += ["-af", "aresample=async=1:first_pts=0", "-ac", "1", "-ar", str(params.sample_rate),
            "-c:a", "pcm_s16le", "-map_metadata", "-1", "-bitexact", "-f", "wav"]
    wav = request.output("audio_16k.wav")
    with atomic.atomic_path(wav) as tmp:
        proc = subprocess.run([*cmd, str(tmp)], capture_output=True, text=True,
                              encoding="utf-8", errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed on {source} (exit {proc.returncode}): "
                               f"{proc.stderr.strip()[-2000:]}")
    with wave.open(str(wav), "rb") as handle:
        duration = handle.getnframes() / handle.getframerate()
    audio_offset = max(0.0, stream.start_time - info.start_time)
    media_info = {
        "source": str(source),
        "has_video": info.has_video,
        "video_fps": info.video_fps,
        "media_duration": info.duration,
        "audio_stream": stream.model_dump(),
        "audio_streams": len(info.audio_streams),
        "audio_start_offset": round(audio_offset, 3),
        "timeline_offset": start,
        "sample_rate": params.sample_rate,
        "duration": round(duration, 3),
    }
    atomic.write_json(request.output("media_info.json"), media_info)
    logger.info("audio stream %d (%s, %s ch, lang %s): %.1f s of audio, offset %.3f s",
                stream.index, stream.codec, stream.channels, stream.language or "-", duration,
                audio_offset)
    return StageOutcome(outputs=[wav, request.output("media_info.json")],
                        info={"duration": round(duration, 3), "stream": stream.index})


if __name__ == "__main__":
    from shared import stage_main

    stage_main.run(SPEC, process)
