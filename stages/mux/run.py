"""mux: the work (see the package docstring for what it makes)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from shared import atomic
from shared.errors import InputError, PipelineError
from shared.file_hashes import sha256_file
from shared.file_names import safe_title
from shared.stage import StageOutcome, StageRequest
from stages.mux import MuxParams
from stages.mux.burn import burn_command, prepare_scratch, warn_if_no_font
from stages.mux.command import (
    MuxPlan,
    choose_container,
    existing_action,
    mux_command,
    plan_tracks,
    probe_streams,
    run_ffmpeg,
)
from stages.mux.files import MANIFEST, Manifest, free_target
from stages.mux.tracks import Track, default_track, find_track, load_tracks

logger = logging.getLogger(__name__)

AUDIO_ONLY = "audio-only input: subtitles only"


def process(request: StageRequest, state) -> StageOutcome:
    from shared import system_tools

    params = request.params_as(MuxParams)
    media = Path(request.inputs["media"])
    media_info = json.loads(Path(request.inputs["media_info"]).read_text("utf-8"))
    if not media_info.get("has_video", True):
        logger.info(AUDIO_ONLY)
        return StageOutcome(outputs=[], info={"skipped": AUDIO_ONLY})
    tracks = load_tracks(request.inputs, request.job_dir)
    if not tracks:
        raise PipelineError("the mux stage got no subtitle tracks",
                            fix="run the subtitles stage first (workflow `subtitle`)")
    default = default_track(tracks, params.default_language)
    burn = find_track(tracks, params.burn_in, "burn_in") if params.burn_in else None

    ffmpeg = system_tools.require("ffmpeg")
    streams = probe_streams(media)
    duration = media_info.get("media_duration")
    manifest = Manifest(request.stage_dir / MANIFEST)
    stem = safe_title(request.title)

    plan, note = _plan(media, streams, tracks, default, params)
    if note:
        logger.warning("%s", note)
    plan, target, refused = _mux(ffmpeg, media, plan, duration, params,
                                 lambda ext: free_target(request.job_dir, f"{stem}.subtitled",
                                                         ext, manifest))
    note = refused or note
    manifest.record(target)
    outputs = [target]
    info = {"output": _relative(target, request.job_dir), "container": plan.container,
            "fallback": note,
            "tracks": [{"language": t.track.iso639_2, "title": t.track.name,
                        "codec": t.stream_codec, "default": t.default} for t in plan.tracks],
            "kept_subtitle_streams": [{"index": i, "codec": c} for i, c, _ in plan.existing]}
    logger.info("%s: %s with %d subtitle track(s) (%s), default %s", target.name,
                plan.container, len(plan.tracks),
                ", ".join(f"{t.track.iso639_2} {t.stream_codec}" for t in plan.tracks),
                tracks[default].iso639_2)

    if burn is not None:
        burned = _burn(ffmpeg, media, tracks[burn], streams, stem, request, manifest,
                       duration, params)
        outputs.append(burned)
        info["burned_in"] = {"output": _relative(burned, request.job_dir),
                             "language": tracks[burn].iso639_2}
    return StageOutcome(outputs=outputs, info=info)


def _plan(media: Path, streams: list[dict], tracks: list[Track], default: int,
          params: MuxParams) -> tuple[MuxPlan, str | None]:
    container, note = choose_container(media, params.container)
    planned = plan_tracks(tracks, default, container, params.mkv_subtitle_format)
    if planned is None:
        missing = [t.name for t in tracks if t.file(("vtt",)) is None]
        note = (f"{container.upper()} holds only WebVTT subtitles and "
                f"{', '.join(missing)} has no .vtt file: writing MKV")
        container = "mkv"
        planned = plan_tracks(tracks, default, container, params.mkv_subtitle_format)
        assert planned is not None
    plan = MuxPlan(container, planned, faststart=params.faststart)
    if params.keep_existing_subtitles:
        plan.existing = _existing(streams, container)
    return plan, note


def _existing(streams: list[dict], container: str) -> list[tuple[int, str, str]]:
    kept = []
    for stream in streams:
        if stream.get("codec_type") != "subtitle":
            continue
        codec = stream.get("codec_name") or "unknown"
        action = existing_action(codec, container)
        if action is None:
            logger.warning("the input's subtitle stream %d (%s) cannot go into %s: dropped "
                           "from the copy", stream["index"], codec, container.upper())
            continue
        kept.append((stream["index"], codec, action))
    return kept


def _mux(ffmpeg: str, media: Path, plan: MuxPlan, duration: float | None, params: MuxParams,
         target_for: Callable[[str], Path]) -> tuple[MuxPlan, Path, str | None]:
    """Write the copy to a temporary name beside its target and rename it; a container that
    refuses the input's streams (e.g. a codec MP4 cannot hold) falls back to MKV once, and
    the third value says why."""
    refused = None
    while True:
        target = target_for(plan.extension)
        tmp = target.with_name(f".{target.name}.partial")
        tmp.unlink(missing_ok=True)  # ours: left by an interrupted run
        try:
            returncode, errors = run_ffmpeg(mux_command(ffmpeg, media, plan, tmp), duration,
                                            f"mux {plan.container}")
            problem = _check(tmp, plan) if returncode == 0 else " | ".join(errors[-5:])
            if problem is None:
                atomic.publish(tmp, target)  # the umask's mode, as for every output
                return plan, target, refused
        finally:
            tmp.unlink(missing_ok=True)
        if plan.container == "mkv":
            raise InputError(f"ffmpeg could not mux the subtitles into a copy of {media} "
                             f"(exit {returncode}): {problem}",
                             fix="check the file plays (ffprobe FILE); to leave out the "
                                 "input's own subtitle streams: --set "
                                 "mux.keep_existing_subtitles=false")
        refused = (f"{plan.container.upper()} could not take the streams of {media.name} "
                   f"({problem}): writing MKV instead")
        logger.warning("%s", refused)
        plan = _plan(media, probe_streams(media), [t.track for t in plan.tracks],
                     next(i for i, t in enumerate(plan.tracks) if t.default),
                     params.model_copy(update={"container": "mkv"}))[0]


def _check(path: Path, plan: MuxPlan) -> str | None:
    """None when the written file has every subtitle stream, else what is wrong."""
    subtitles = [s for s in probe_streams(path) if s.get("codec_type") == "subtitle"]
    expected = len(plan.existing) + len(plan.tracks)
    if len(subtitles) != expected:
        return f"the copy has {len(subtitles)} subtitle streams, expected {expected}"
    return None


def _burn(ffmpeg: str, media: Path, track: Track, streams: list[dict], stem: str,
          request: StageRequest, manifest: Manifest, duration: float | None,
          params: MuxParams) -> Path:
    target = free_target(request.job_dir, f"{stem}.burned-in.{track.language}", "mp4",
                         manifest)
    warn_if_no_font(track, params.burn_in_fonts_dir)
    scratch = request.stage_dir / "burn-in"
    shutil.rmtree(scratch, ignore_errors=True)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        name = prepare_scratch(scratch, track)
        audio = [s.get("codec_name") for s in streams if s.get("codec_type") == "audio"]
        cmd = burn_command(ffmpeg, media.resolve(), name, tmp.resolve(), audio,
                           params.burn_in_crf, params.burn_in_preset, params.burn_in_fonts_dir)
        returncode, errors = run_ffmpeg(cmd, duration, f"burn in {track.language}", cwd=scratch)
        if returncode != 0:
            raise InputError(f"ffmpeg could not burn the {track.name} subtitles into {media} "
                             f"(exit {returncode}): " + " | ".join(errors[-5:]),
                             fix="check the file plays (ffprobe FILE), or run without "
                                 "--set mux.burn_in")
        atomic.publish(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    manifest.record(target, sha256_file(target))
    logger.info("%s: %s subtitles burned in (libx264 crf %d, %s)", target.name, track.name,
                params.burn_in_crf, params.burn_in_preset)
    return target


def _relative(path: Path, job_dir: Path) -> str:
    try:
        return path.resolve().relative_to(job_dir.resolve()).as_posix()
    except ValueError:
        return str(path)
