"""source_separation's work, in the demucs venv: load the model once per batch (``setup``),
then per job separate the windows not done yet (``process``; the checkpoint in
``checkpoint.py``), write the stems, their 16 kHz mono vocals and separation.json. The contract
and the window plan are in ``__init__``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import atomic
from shared.errors import InputError, ModelMissingError, PipelineError
from shared.stage import ModelRef, StageOutcome, StageRequest, report_progress
from stages.source_separation import (
    CACHE_COMMAND,
    SeparationParams,
    chunk_sizes,
    chunk_windows,
    locate,
    missing_model_error,
)
from stages.source_separation.checkpoint import Stems

logger = logging.getLogger("stages.source_separation")


@dataclass
class LoadedModel:
    model: Any  # demucs BagOfModels
    ref: ModelRef
    device: str
    load_s: float


def setup(requests: list[StageRequest]) -> dict[tuple[str, str], LoadedModel]:
    """Load each distinct (model, device) once for the whole batch."""
    loaded: dict[tuple[str, str], LoadedModel] = {}
    for request in requests:
        params = request.params_as(SeparationParams)
        assert params.device
        key = (params.model, params.device)
        if key not in loaded:
            repo_id = request.models[0].repo_id if request.models else None
            loaded[key] = _load_model(params, repo_id)
    return loaded


def _no_downloads(url: str, *args, **kwargs) -> None:
    raise ModelMissingError(f"demucs tried to download {url}: a pipeline run never downloads",
                            fix=CACHE_COMMAND)


def _load_model(params: SeparationParams, repo_id: str | None) -> LoadedModel:
    import os

    import torch
    import torch.hub
    from demucs.pretrained import get_model

    hub = Path(os.environ["HF_HUB_CACHE"])
    torch_home = Path(os.environ["TORCH_HOME"])
    ref = locate(params.model, repo_id, hub, torch_home)
    if ref is None:
        raise missing_model_error(params.model, repo_id, hub, torch_home)
    # get_model falls back to a download from dl.fbaipublicfiles.com when a cached file does
    # not load; a run must fail instead (HF_HUB_OFFLINE already stops the hub side).
    torch.hub.download_url_to_file = _no_downloads
    if params.cpu_threads:
        torch.set_num_threads(params.cpu_threads)
    device = params.device  # resolved in the plan (setup asserts it)
    if device == "cuda" and not torch.cuda.is_available():
        logger.warning("CUDA is not available in this process: separating on the CPU")
        device = "cpu"
    if device == "mps" and not torch.backends.mps.is_available():
        logger.warning("MPS is not available in this process: separating on the CPU")
        device = "cpu"
    started = time.monotonic()
    try:
        model = get_model(params.model)
    except ModelMissingError:
        raise
    except Exception as e:
        raise ModelMissingError(
            f"demucs could not load {params.model} from the cache ({type(e).__name__}: {e})",
            fix=f"./cache-models.sh --verify --stage source_separation; then {CACHE_COMMAND}"
        ) from e
    model.to(device)
    model.eval()
    if "vocals" not in model.sources:
        raise PipelineError(f"the demucs model {params.model} has no vocals stem "
                            f"(sources: {', '.join(model.sources)})",
                            fix="--set source_separation.model=htdemucs")
    elapsed = time.monotonic() - started
    logger.info("loaded %s (%s, %d model(s), sources %s) on %s in %.1fs", params.model,
                ref.revision, len(getattr(model, "models", [model])), ",".join(model.sources),
                device, elapsed)
    return LoadedModel(model=model, ref=ref, device=device, load_s=round(elapsed, 3))


def _model_segment(model, params: SeparationParams):
    """The segment apply_model uses: the override, else the shortest of the bag's models (as
    the model holds it, e.g. Fraction(39, 5) for htdemucs, so the step is computed exactly as
    apply_model computes it)."""
    own = min((m.segment for m in getattr(model, "models", [model])), key=float)
    if params.segment_seconds is None:
        return own
    if params.segment_seconds > float(own):
        raise InputError(f"source_separation.segment_seconds {params.segment_seconds} is longer "
                         f"than the model's {float(own):g} s, which is the most it accepts",
                         fix=f"--set source_separation.segment_seconds={float(own):g} (or leave "
                         "it unset)")
    return params.segment_seconds


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and any(
        s in text for s in ("out of memory", "can't allocate memory", "not enough memory",
                            "failed to allocate"))


def out_of_memory_error(error: BaseException, params: SeparationParams, job_id: str,
                        device: str) -> PipelineError:
    smaller = max(1.0, round(params.chunk_seconds / 2, 1))
    fix = f"./run-pipeline.sh -j {job_id} --set source_separation.chunk_seconds={smaller:g}"
    if device != "cpu":
        fix += (" (on the GPU a shorter --set source_separation.segment_seconds=4 also helps, "
                "or --set source_separation.device=cpu)")
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return PipelineError(f"out of memory separating {params.chunk_seconds:g} s chunks on "
                         f"{device}: {first}", fix=fix)


def process(request: StageRequest, models: dict[tuple[str, str], LoadedModel]) -> StageOutcome:
    import soundfile as sf

    params = request.params_as(SeparationParams)
    assert params.device
    loaded = models[(params.model, params.device)]
    model = loaded.model
    audio = Path(request.inputs["audio"])
    info = sf.info(str(audio))
    if info.samplerate != model.samplerate:
        raise PipelineError(f"{audio} is {info.samplerate} Hz; {params.model} separates "
                            f"{model.samplerate} Hz audio",
                            fix=f"./run-pipeline.sh -j {request.job_id} --force demux")
    samplerate, total = info.samplerate, info.frames
    segment = _model_segment(model, params)
    step = int((1 - params.segment_overlap) * int(samplerate * segment))
    chunk, overlap = chunk_sizes(params, samplerate, step)
    windows = chunk_windows(total, chunk, overlap)
    logger.info("%s: %.1f s of audio in %d chunk(s) of %.2f s + %.2f s overlap on %s",
                audio.name, total / samplerate, len(windows), chunk / samplerate,
                overlap / samplerate, loaded.device)
    channels = model.audio_channels
    vocals_path, accomp_path = request.output("vocals.wav"), request.output("accompaniment.wav")
    started = time.monotonic()
    stems = Stems(request, samplerate, channels, params.output_subtype, len(windows))
    finished = False
    try:
        with sf.SoundFile(str(audio)) as source:
            _separate_windows(source, windows, overlap, stems, model, params, loaded.device,
                              request.job_id)
        finished = True
    finally:
        stems.close(finished)
    elapsed = time.monotonic() - started
    vocals_16k = _to_16k_mono(vocals_path, request.output("vocals_16k.wav"))
    duration = total / samplerate
    summary = _summary(params, loaded, samplerate, duration, float(segment), chunk, overlap,
                       windows, elapsed)
    summary["outputs"] = {"vocals": vocals_path.name, "accompaniment": accomp_path.name,
                          "vocals_16k": vocals_16k.name}
    atomic.write_json(request.output("separation.json"), summary)
    logger.info("separated %.1f s in %.1f s (RTF %.3f) into %s", duration, elapsed,
                summary["rtf"] or 0.0, ", ".join(summary["outputs"].values()))
    return StageOutcome(
        outputs=[vocals_path, accomp_path, vocals_16k, request.output("separation.json")],
        info={"model": params.model, "device": loaded.device, "chunks": len(windows),
              "resumed_after_chunk": stems.done, "chunks_separated": len(windows) - stems.done,
              "audio_s": round(duration, 3), "rtf": summary["rtf"]})


def _summary(params: SeparationParams, loaded: LoadedModel, samplerate: int, duration: float,
             segment: float, chunk: int, overlap: int, windows: list[tuple[int, int]],
             elapsed: float) -> dict[str, Any]:
    """separation.json, less the output names."""
    return {
        "model": params.model,
        "repo_id": loaded.ref.repo_id,
        "revision": loaded.ref.revision,
        "sources": list(loaded.model.sources),
        "device": loaded.device,
        "samplerate": samplerate,
        "channels": loaded.model.audio_channels,
        "duration": round(duration, 3),
        "segment_seconds": round(segment, 3),
        "shifts": params.shifts,
        "chunk_seconds": round(chunk / samplerate, 3),
        "overlap_seconds": round(overlap / samplerate, 3),
        "chunks": len(windows),
        "crossfade_starts_s": [round(s / samplerate, 3) for s, _ in windows[1:]],
        "model_load_s": loaded.load_s,
        "separation_s": round(elapsed, 3),
        "rtf": round(elapsed / duration, 4) if duration else None,
    }


def _separate_windows(source, windows: list[tuple[int, int]], overlap: int, stems: Stems,
                      model, params: SeparationParams, device: str, job_id: str) -> None:
    """Separate the windows not done yet, crossfade the joins, append the stems, and save a
    checkpoint after each window."""
    import numpy as np

    samplerate, total = source.samplerate, source.frames
    vocals_index = model.sources.index("vocals")
    clip = params.output_subtype == "PCM_16"

    def emit(pair) -> None:  # pair: (2, channels, n) = vocals, accompaniment
        for out, stem in zip(stems.files, pair, strict=True):
            out.write(np.clip(stem.T, -1.0, 1.0) if clip else stem.T)

    pending = stems.pending  # the previous window's last `overlap` samples, to crossfade
    for index, (start, end) in enumerate(windows[stems.done:], stems.done):
        if end <= start:
            break
        source.seek(start)
        block = source.read(end - start, dtype="float32", always_2d=True)
        pair = _separate(model, block, params, device, vocals_index, index, job_id)
        if pending is not None and overlap:
            fade_in = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
            pair[..., :overlap] = pending * (1 - fade_in) + pair[..., :overlap] * fade_in
        if index == len(windows) - 1:
            emit(pair)
        else:
            keep = pair.shape[-1] - overlap
            emit(pair[..., :keep])
            pending = pair[..., keep:].copy()
        stems.window_done(index + 1, stems.files[0].tell(), pending)
        report_progress(round(end / samplerate, 3), round(total / samplerate, 3),
                        f"chunk {index + 1}/{len(windows)}")
        logger.debug("chunk %d/%d: %.1f-%.1f s", index + 1, len(windows),
                     start / samplerate, end / samplerate)


def _separate(model, block, params: SeparationParams, device: str, vocals_index: int,
              index: int, job_id: str):
    """One window (samples x channels, float32) -> (2, channels, samples): vocals and the sum
    of the other stems, as numpy."""
    import random

    import torch
    from demucs.apply import apply_model
    from demucs.audio import convert_audio_channels

    random.seed(params.seed * 1_000_003 + index)  # the shifts of apply_model, per window
    mix = convert_audio_channels(torch.from_numpy(block.T.copy()), model.audio_channels)
    try:
        with torch.no_grad():
            stems = apply_model(model, mix[None], shifts=params.shifts, split=True,
                                overlap=params.segment_overlap, device=device,
                                segment=params.segment_seconds)[0]
    except (RuntimeError, MemoryError) as e:
        if _is_out_of_memory(e):
            raise out_of_memory_error(e, params, job_id, device) from e
        raise
    vocals = stems[vocals_index]
    others = [i for i in range(stems.shape[0]) if i != vocals_index]
    accompaniment = stems[others].sum(dim=0)
    return torch.stack([vocals, accompaniment]).cpu().numpy()


def _to_16k_mono(source: Path, target: Path) -> Path:
    """16 kHz mono PCM for VAD and ASR, resampled by ffmpeg (streamed, like demux)."""
    import subprocess

    from shared import system_tools

    ffmpeg = system_tools.require("ffmpeg")
    with atomic.atomic_path(target) as tmp:
        proc = subprocess.run(
            [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
             "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-map_metadata", "-1",
             "-bitexact", "-f", "wav", str(tmp)],
            capture_output=True, text=True, encoding="utf-8", errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed resampling {source} (exit {proc.returncode}): "
                               f"{proc.stderr.strip()[-2000:]}")
    return target

