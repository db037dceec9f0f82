"""source_separation: isolate the dialogue with Demucs, in the demucs venv.

Reads demux's 44.1 kHz stereo WAV and writes ``vocals.wav`` and ``accompaniment.wav`` (the sum
of the other stems) at 44.1 kHz stereo, ``vocals_16k.wav`` (16 kHz mono, for VAD and ASR) and
``separation.json``. The film is separated in windows of ``chunk_seconds`` + ``overlap_seconds``
read with soundfile; each window goes through ``demucs.apply.apply_model`` (which splits it
into the model's own segments), consecutive windows share ``overlap_seconds`` that are
crossfaded linearly, and the stems are written as each window is done. Memory stays flat with
the length of the film.

Window starts are whole multiples of apply_model's step (segment x (1 - segment_overlap)), so a
window's segments sit exactly where an unchunked run puts them: the output differs from an
unchunked run only around the joins, where the crossfade hides the seam.

Weights: ``demucs.pretrained.get_model(name)`` reads the Hugging Face cache first
(adefossez/HTDemucs: ``htdemucs.yaml`` + ``<sig>.safetensors``, what ./cache-models.sh
downloads), then the legacy torch hub checkpoints ``$TORCH_HOME/hub/checkpoints/<sig>-<sha>.th``.
The runner checks one of them is complete before the stage starts, and the stage refuses to
let demucs download anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from shared import atomic
from shared.errors import InputError, ModelMissingError, PipelineError
from shared.model_choice import device_for
from shared.stage import (
    ModelRef,
    ResolveContext,
    StageOutcome,
    StageParams,
    StageRequest,
    StageSpec,
    report_progress,
)
from stages.source_separation.checkpoint import Stems

logger = logging.getLogger(__name__)

DEVICES = ("cuda", "mps", "cpu")
CACHE_COMMAND = "./cache-models.sh --stage source_separation"
# The legacy checkpoints demucs 4.1 falls back to when the HF cache lacks a model: the
# signatures of demucs/remote/<name>.yaml, file names from demucs/remote/files.txt, loaded from
# $TORCH_HOME/hub/checkpoints/ (the 8 hex digits after the dash are demucs' sha256 prefix).
LEGACY_CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "htdemucs": ("955717e8-8726e21a.th",),
    "htdemucs_ft": ("f7e0c4bc-ba3fe64a.th", "d12395a8-e57c48e6.th", "92cfc3b6-ef3bcb9c.th",
                    "04573f0d-f3cf25b2.th"),
}


class SeparationParams(StageParams):
    model: str = Field(
        "htdemucs", description="demucs model from config/models.toml: htdemucs (default, one "
        "model) or htdemucs_ft (a bag of four fine-tuned models: better vocals, ~4x slower)")
    device: str | None = Field(
        None, description="cuda, mps or cpu; default: the device bootstrap chose for this machine")
    chunk_seconds: float = Field(
        60.0, gt=0, description="audio separated at once (RAM grows with it, not with the film); "
        "rounded to a whole number of the model's steps (htdemucs: 5.85 s, so 60 -> 58.5)")
    overlap_seconds: float = Field(
        2.0, ge=0, description="audio two consecutive chunks share, crossfaded linearly")
    shifts: int = Field(
        0, ge=0, description="demucs' shift trick: average this many randomly shifted passes "
        "(a little better, that many times slower; seeded, so reproducible)")
    segment_seconds: float | None = Field(
        None, gt=0, description="length of the pieces apply_model feeds the model; default: the "
        "model's own (htdemucs: 7.8 s, also the most it accepts). Shorter needs less GPU memory")
    segment_overlap: float = Field(
        0.25, ge=0, lt=1, description="overlap between apply_model's pieces (demucs' default)")
    cpu_threads: int = Field(0, ge=0, description="torch CPU threads; 0 = the machine default")
    output_subtype: Literal["PCM_16", "FLOAT"] = Field(
        "PCM_16", description="sample format of vocals.wav / accompaniment.wav (PCM_16: half "
        "the disk; a WAV holds at most 4 GB, ~6.7 h of 44.1 kHz stereo PCM_16)")
    seed: int = Field(0, description="seeds the random shifts (shifts > 0)")

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> SeparationParams:
        if self.overlap_seconds >= self.chunk_seconds:
            raise ValueError(f"overlap_seconds ({self.overlap_seconds}) must be smaller than "
                             f"chunk_seconds ({self.chunk_seconds})")
        return self


# -- in the runner (common venv) ----------------------------------------------------------
def resolve(params: SeparationParams, ctx: ResolveContext) -> SeparationParams:
    """Fill what the machine decides: device and CPU threads; check the model name."""
    spec = ctx.models.by_repo_or_name(params.model)
    if spec is None or spec.loader != "demucs":
        names = [m.name for m in ctx.models.models.values() if m.loader == "demucs"]
        raise InputError(f"unknown source separation model '{params.model}'",
                         fix=f"use one of: {', '.join(names)}")
    defaults = ctx.hardware.defaults
    device = device_for(params.device, ctx, DEVICES)
    if device not in DEVICES:
        raise InputError(f"source_separation.device '{device}' is not one of {', '.join(DEVICES)}",
                         fix="--set source_separation.device=cpu")
    return params.model_copy(update={"model": spec.name, "device": device,
                                     "cpu_threads": params.cpu_threads or defaults.cpu_threads})


def model_refs(params: SeparationParams, ctx: ResolveContext) -> list[ModelRef]:
    """The weights demucs will load, named so that other weights change the fingerprint."""
    spec = ctx.models.model(params.model)
    cache = ctx.hardware.cache
    ref = locate(spec.name, spec.repo_id, cache.hf_hub_cache, cache.torch_home)
    if ref is None:
        raise missing_model_error(spec.name, spec.repo_id, cache.hf_hub_cache, cache.torch_home)
    return [ref]


def locate(name: str, repo_id: str | None, hub: Path, torch_home: Path) -> ModelRef | None:
    """Where demucs 4.1 finds ``name``, in its own order: the HF cache (revision = the cached
    commit), else the legacy torch hub checkpoints (revision = their file names and sizes,
    the names carrying demucs' sha256 prefix). None when neither is complete."""
    from shared import hf_cache

    if repo_id and hf_cache.is_cached(hub, repo_id):
        snap = hf_cache.snapshot_dir(hub, repo_id)
        if snap is not None and (snap / f"{name}.yaml").is_file():
            weights = [snap / f"{sig}.safetensors" for sig in bag_signatures(
                snap / f"{name}.yaml")] or list(snap.glob("*.safetensors"))
            if weights and all(w.is_file() for w in weights):
                return ModelRef(name=name, repo_id=repo_id, revision=snap.name)
    files = [torch_home / "hub" / "checkpoints" / f for f in LEGACY_CHECKPOINTS.get(name, ())]
    if files and all(f.is_file() for f in files):
        signature = ",".join(f"{f.name}:{f.stat().st_size}" for f in files)
        return ModelRef(name=name, repo_id=None, revision=f"torch_hub:{signature}")
    return None


def bag_signatures(yaml_file: Path) -> list[str]:
    """The model signatures a demucs bag file lists, in flow (``models: ['955717e8']``) or
    block style (``models:`` then ``- 955717e8`` lines), read without a YAML library (the
    runner's venv need not have one). Empty when the file says neither."""
    import re

    text = yaml_file.read_text("utf-8")
    flow = re.search(r"^models:\s*\[([^\]]*)\]", text, flags=re.M)
    if flow:
        return re.findall(r"[0-9A-Za-z_]+", flow.group(1))
    block = re.search(r"^models:\s*\n((?:[ \t]*-[^\n]*\n?)+)", text, flags=re.M)
    if block:
        return [item.strip().strip("'\"") for item in re.findall(r"-\s*([^\n#]+)", block.group(1))]
    return []


def missing_model_error(name: str, repo_id: str | None, hub: Path,
                        torch_home: Path) -> ModelMissingError:
    fix = f"./cache-models.sh --model {name}   (or the stage's models: {CACHE_COMMAND})"
    return ModelMissingError(
        f"the demucs model {name} is not in the cache: neither {repo_id} in {hub} nor "
        f"{', '.join(LEGACY_CHECKPOINTS.get(name, ()))} in {torch_home / 'hub' / 'checkpoints'}",
        fix=fix)


SPEC = StageSpec(
    name="source_separation",
    version=1,
    params=SeparationParams,
    inputs={"audio": "demux:audio_44k.wav"},
    outputs=("vocals.wav", "accompaniment.wav", "vocals_16k.wav", "separation.json"),
    description="isolate the vocals with Demucs (vocals, accompaniment, 16 kHz vocals)",
    environments=("demucs",),
    resolve=resolve,
    models=model_refs,
    process="stages.source_separation:process",
    setup="stages.source_separation:setup",
)


# -- chunking (pure Python: the plan is unit-tested without torch) --------------------------
def chunk_windows(total: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) sample windows that cover ``total`` samples: one every ``chunk`` samples,
    each ``chunk + overlap`` long (the last may be shorter). Consecutive windows share exactly
    ``overlap`` samples, and a window always extends past the overlap it shares with the
    previous one. Needs 0 <= overlap <= chunk."""
    assert chunk > 0 and 0 <= overlap <= chunk
    windows = []
    start = 0
    while True:
        end = min(total, start + chunk + overlap)
        windows.append((start, end))
        if end >= total:
            return windows
        start += chunk


def chunk_sizes(params: SeparationParams, samplerate: int, step: int) -> tuple[int, int]:
    """(chunk, overlap) in samples: the chunk a whole number (>= 1) of apply_model's ``step``,
    the overlap at most the chunk."""
    steps = max(1, round(params.chunk_seconds * samplerate / step))
    chunk = steps * step
    overlap = min(chunk, round(params.overlap_seconds * samplerate))
    return chunk, overlap


# -- in the demucs venv ---------------------------------------------------------------------
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
    device = params.device or "cpu"
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
    summary = {
        "model": params.model,
        "repo_id": loaded.ref.repo_id,
        "revision": loaded.ref.revision,
        "sources": list(model.sources),
        "device": loaded.device,
        "samplerate": samplerate,
        "channels": channels,
        "duration": round(duration, 3),
        "segment_seconds": round(float(segment), 3),
        "shifts": params.shifts,
        "chunk_seconds": round(chunk / samplerate, 3),
        "overlap_seconds": round(overlap / samplerate, 3),
        "chunks": len(windows),
        "crossfade_starts_s": [round(s / samplerate, 3) for s, _ in windows[1:]],
        "model_load_s": loaded.load_s,
        "separation_s": round(elapsed, 3),
        "rtf": round(elapsed / duration, 4) if duration else None,
        "outputs": {"vocals": vocals_path.name, "accompaniment": accomp_path.name,
                    "vocals_16k": vocals_16k.name},
    }
    atomic.write_json(request.output("separation.json"), summary)
    logger.info("separated %.1f s in %.1f s (RTF %.3f) into %s", duration, elapsed,
                summary["rtf"] or 0.0, ", ".join(summary["outputs"].values()))
    return StageOutcome(
        outputs=[vocals_path, accomp_path, vocals_16k, request.output("separation.json")],
        info={"model": params.model, "device": loaded.device, "chunks": len(windows),
              "resumed_after_chunk": stems.done, "chunks_separated": len(windows) - stems.done,
              "audio_s": round(duration, 3), "rtf": summary["rtf"]})


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

