"""vad: where the speech is, as speech_segments.json (silero in the whisperx venv, pyannote in
the pyannote venv).

The contract (Params, SPEC, resolve, model_refs) is here; the work is in run.py.

Two backends behind one Params model: ``silero`` (the silero-vad package's ONNX model, CPU,
fast; in the whisperx venv) and ``pyannote`` (pyannote.audio's VoiceActivityDetection
pipeline on the registry model pyannote-segmentation, the hub's pyannote/segmentation
checkpoint in the model cache; CPU or GPU; in the pyannote venv). Both run offline: silero's
model is inside its package, pyannote's is installed by cache-models (or, in tests, by a
fixture) from the copy in the whisperx wheel. The 16 kHz WAV is scored in blocks (10 minutes
by default) that overlap their neighbours, so memory stays flat for a film of any length;
regions are joined across block edges, then the duration rules (fill short silences, drop
short blips, pad) apply once over the whole file. A quality summary (speech seconds and ratio,
regions, the longest silence) goes into the output and the log, with a warning, not an error,
when almost nothing or almost everything is speech.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shared.errors import ModelMissingError
from shared.model_choice import device_for
from shared.stage import ModelRef, ResolveContext, StageParams, StageSpec

DEVICES = ("cpu", "cuda", "mps")

SAMPLE_RATE = 16000
BACKEND_MODELS = {"silero": "silero-vad", "pyannote": "pyannote-segmentation"}
BACKEND_ENVIRONMENTS = {"silero": "whisperx", "pyannote": "pyannote"}


class VadParams(StageParams):
    """Defaults tuned for film dialogue: short replies kept, breaths and commas inside a line
    do not split it, a pause between lines does."""

    backend: Literal["silero", "pyannote"] = Field(
        "silero", description="silero: the silero-vad ONNX model (CPU, ~0.004 x real time); "
        "pyannote: pyannote.audio's segmentation model (~0.04 x real time per CPU thread; GPU "
        "when the profile has one)")
    onset: float = Field(
        0.5, ge=0.0, le=1.0, description="a region starts where the frame speech probability "
        "rises above this (silero: threshold; pyannote: onset)")
    offset: float = Field(
        0.35, ge=0.0, le=1.0, description="and ends where it falls below this (silero: "
        "neg_threshold; pyannote: offset); below onset, so quiet word endings stay inside")
    min_speech_duration: float = Field(
        0.25, ge=0.0, description="seconds: shorter regions are dropped (clicks, coughs, door "
        "slams); a one-word reply ('haan', 'no') lasts about 0.3 s")
    min_silence_duration: float = Field(
        0.5, ge=0.0, description="seconds: shorter silences do not split a region (breaths, "
        "pauses at commas); a pause between lines of dialogue is longer")
    speech_pad: float = Field(
        0.1, ge=0.0, description="seconds added to both edges of every region (soft onsets, "
        "trailing consonants); regions never overlap: a short gap is split in the middle")
    pyannote_step: float = Field(
        1.0, gt=0.0, le=5.0, description="pyannote: seconds between the 5 s windows its model "
        "scores (the library's default is 0.5 s); 1.0 s gave the same edges within 0.02 s at "
        "half the cost")
    device: str | None = Field(
        None, description="pyannote: cpu, cuda or mps; default: the profile's. silero always "
        "runs on the CPU")
    block_duration: float = Field(
        600.0, ge=10.0, description="seconds of audio scored at a time: memory stays flat for "
        "a file of any length")
    block_overlap: float = Field(
        10.0, ge=0.0, description="seconds of context read on each side of a block (two "
        "pyannote windows); regions are joined across block edges")
    min_speech_ratio: float = Field(
        0.02, ge=0.0, le=1.0, description="warn when less of the audio than this is speech "
        "(wrong audio stream? music only?)")
    max_speech_ratio: float = Field(
        0.95, ge=0.0, le=1.0, description="warn when more of the audio than this is speech "
        "(noise or music taken for speech?)")

    @model_validator(mode="after")
    def _hysteresis(self) -> VadParams:
        if self.offset > self.onset:
            raise ValueError(f"offset ({self.offset}) must not exceed onset ({self.onset})")
        return self


def resolve(params: VadParams, ctx: ResolveContext) -> VadParams:
    if params.backend == "silero":
        return params.model_copy(update={"device": "cpu"})
    spec = ctx.models.model(BACKEND_MODELS["pyannote"])
    if not spec.is_cached(ctx.hardware.cache.hf_hub_cache) and spec.name not in ctx.offered:
        raise ModelMissingError(
            f"the pyannote segmentation model ({spec.repo_id}) is not in "
            f"{ctx.hardware.cache.hf_hub_cache}",
            fix=f"./cache-models.sh --model {spec.name}   (or --set vad.backend=silero)")
    device = device_for(params.device, ctx, DEVICES)
    return params.model_copy(update={"device": device if device in DEVICES else "cpu"})


def environment(params: VadParams, ctx: ResolveContext) -> str:
    """silero runs in the whisperx venv, pyannote in the pyannote venv (pyannote.audio 4)."""
    return BACKEND_ENVIRONMENTS[params.backend]


def model_refs(params: VadParams, ctx: ResolveContext) -> list[ModelRef]:
    spec = ctx.models.model(BACKEND_MODELS[params.backend])
    hub = ctx.hardware.cache.hf_hub_cache
    return [ModelRef(name=spec.name, revision=spec.cached_revision(hub))]


SPEC = StageSpec(
    name="vad",
    version=1,
    params=VadParams,
    inputs={"audio": ("source_separation:vocals_16k.wav", "demux:audio_16k.wav")},
    outputs=("speech_segments.json",),
    description="find the speech regions (voice activity detection)",
    environments=("whisperx", "pyannote"),
    choose_environment=environment,
    resolve=resolve,
    models=model_refs,
    process="stages.vad.run:process",
    setup="stages.vad.run:setup",
)
