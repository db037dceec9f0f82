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
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from shared.errors import InputError, ModelMissingError
from shared.model_choice import device_for
from shared.stage import (
    ModelRef,
    ResolveContext,
    StageParams,
    StageSpec,
)

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
    if ref is None and spec.name in ctx.offered:  # not here: on the cluster's nodes
        ref = ModelRef(name=spec.name, repo_id=spec.repo_id, revision=ctx.offered[spec.name])
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


def disk_estimate(params: SeparationParams, seconds: float, media_bytes: int) -> float:
    """vocals.wav and accompaniment.wav (44.1 kHz stereo, 2 or 4 bytes a sample) and
    vocals_16k.wav (16-bit mono)."""
    sample = 2 if params.output_subtype == "PCM_16" else 4
    return seconds * (2 * 2 * 44100 * sample + 2 * 16000)


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
    process="stages.source_separation.run:process",
    warm_imports=("torch", "demucs.apply", "demucs.pretrained"),
    disk_estimate=disk_estimate,
    setup="stages.source_separation.run:setup",
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
