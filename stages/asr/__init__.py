"""asr: speech to timed text with faster-whisper (CTranslate2), in the whisperx venv.

This module is the stage's contract (Params, SPEC) and what the runner calls in the common
venv (resolve, model_refs); the decoding itself is in stages.asr.decode, which runs in the
whisperx venv: `python -m shared.stage_main stages.asr --job DIR`.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from shared.model_choice import choose_model, device_for, model_ref
from shared.stage import ModelRef, ResolveContext, StageParams, StageSpec

logger = logging.getLogger(__name__)

WHISPER_SIZES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium",
                 "medium.en", "large-v1", "large-v2", "large-v3")


class AsrParams(StageParams):
    backend: Literal["faster-whisper", "batched", "mlx"] | None = Field(
        None, description="faster-whisper: sequential decoding with timestamps (CPU, CUDA); "
        "batched: WhisperX-style batched inference over the speech chunks (faster-whisper's "
        "BatchedInferencePipeline; for GPUs); mlx: mlx-whisper on Apple Silicon (mlx venv). "
        "Default: the machine profile's")
    model: str | None = Field(
        None, description="registry name (faster-whisper-small), Whisper size (small), hub repo "
        "id, or local folder; default: the first cached model of the machine's profile")
    device: str | None = Field(None, description="cpu or cuda; default: the profile's")
    compute_type: str | None = Field(None, description="int8, float16, ...; default: profile's")
    cpu_threads: int = Field(0, description="CPU threads; 0 = the machine default")
    batch_size: int = Field(0, ge=0, description="batched backend: chunks decoded together; "
                            "0 = the machine profile's")
    language: str | None = Field(None, description="ISO code; None = detect (job -s auto)")
    beam_size: int = Field(5, ge=1)
    best_of: int = Field(5, ge=1)
    temperatures: list[float] = Field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    condition_on_previous_text: bool = Field(
        False, description="off: a mistake cannot propagate into a repetition loop")
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    hallucination_silence_threshold: float | None = None
    initial_prompt: str | None = None
    hotwords: str | None = None
    glossary_prompt: Literal["hotwords", "initial_prompt", "both", "off"] = Field(
        "hotwords", description="how the glossary stage's names and job terms reach Whisper when "
        "hotwords / initial_prompt are not set by hand")
    word_timestamps: bool = True
    vad_filter: bool = Field(True, description="skip non-speech with faster-whisper's Silero VAD "
                             "(used only when the job has no vad stage)")
    min_silence_duration_ms: int = Field(500, description="VAD: silence that splits speech")
    language_detection_windows: int = Field(
        4, ge=1, description="-s auto: windows of speech (30 s each, shorter for a short file, "
        "at least 5 s) spread over the whole speech; each window's language and probability "
        "is detected and kept in segments.json")
    language_candidates: list[str] | None = Field(
        None, description="-s auto: choose only among these languages (e.g. [\"hi\", \"en\"] "
        "for a Hindi film with English lines); None = every language Whisper knows")
    multilingual: bool | None = Field(
        None, description="-s auto: detect the language of every speech region and decode each "
        "run of one language in it (films that switch between Hindi and English); each segment "
        "records its own language. None: switched on by itself when the detection windows "
        "disagree with confidence (language_switch_*); true: always; false: never")
    language_switch_probability: float = Field(
        0.7, ge=0, le=1, description="-s auto: a window counts against the main language only "
        "when it detects another with at least this probability (measured with base: 5 s "
        "windows of English or espeak Spanish 0.83-0.95; a window of mixed speech lower)")
    language_switch_share: float = Field(
        0.0, ge=0, le=1, description="-s auto: per-region decoding switches on when two windows, "
        "or windows holding at least this share of the windows' speech, confidently detect "
        "another language than the main one. 0: any one confident window is enough (measured: "
        "16 s of Spanish closing a 6.7-minute English film was one window of four, 17% of "
        "their speech; with 0.2 it was ignored and transcribed as an English translation)")
    language_check: bool = Field(
        True, description="-s auto: after each chunk is decoded, a speech region of 2 s or more "
        "that got no text or only doubtful text (language_check_logprob) has its own language "
        "detected; when that is confidently another (language_switch_probability) the region "
        "is decoded again in it, kept if confident, else the job ends degraded naming the "
        "region. A language the user set (checked: language_verify): a region's doubtful "
        "text is never replaced but, unless its detection hears the set language, doubted "
        "(degraded, its cues flagged). segments.json's language_detection.rechecks lists "
        "each check")
    language_verify: bool = Field(
        True, description="a language the user set (-s ta) is checked against the audio: "
        "every chunk, from the encoder output its decoding computes anyway (no encoder pass "
        "of its own), in windows of the -s auto detection windows' size; windows that "
        "confidently (language_switch_probability) hear another language make the job "
        "degraded, naming it and where (Whisper told a language writes every line in it, a "
        "translation or invented text). Skipped for the model's weak languages "
        "(config/models.toml) and the mlx backend; hi and ur are one")
    language_check_logprob: float = Field(
        -0.5, le=0, description="text whose segments' mean log-probability (each "
        "segment's own words', not its 30-s window's) is under this is doubtful (measured with "
        "base: English lines -0.02 to -0.17; espeak Spanish decoded at the end of an English "
        "film -0.74, an English line made up there -0.56)")
    max_chunk_s: float = Field(30.0, gt=0, description="speech regions (the vad stage's, else "
                               "faster-whisper's own VAD) are merged into chunks of at most "
                               "this many seconds of speech; each chunk is decoded in one call "
                               "(never the silence between regions) and checkpointed, so a "
                               "killed run resumes after the last finished chunk")
    task: Literal["transcribe"] = Field(
        "transcribe", description="always transcribe: translation is its own stage")
    seed: int = Field(0, description="seed of the sampling used by temperature fallback; each "
                      "chunk starts from it, so the same audio and params give the same "
                      "transcript, resumed or not")
    hallucination_filter: bool = Field(
        True, description="remove repetition loops, boilerplate (\"thanks for watching\"), "
        "segments over non-speech and impossible reading speeds; listed in hallucinations.json")
    max_cps: float = Field(35.0, gt=0, description="hallucination filter: characters per second "
                           "above which a segment cannot be speech")
    min_repeats: int = Field(3, ge=2, description="hallucination filter: a phrase repeated this "
                             "many times in a row is a loop")
    max_compression_ratio: float = Field(
        5.0, ge=0, description="hallucination filter: a segment whose text compresses more than "
        "this (Whisper's zlib ratio, measured on the segment's own text) is a repetition loop "
        "and removed; 0: not checked. Measured: the true text of a film of template sentences "
        "compresses at most 3.3 over any 30 s and 4.0 over any 60 s, base's loops on it 6.8 "
        "and 8.6; compression_ratio_threshold (2.4) only makes Whisper retry hotter")
    redecode_loops: bool = Field(
        True, description="hallucination filter: the span of a removed repetition loop is "
        "decoded again, every speech region under it on its own, with no previous text and no "
        "prompt; the new text takes the loop's place when the same filter passes it (not a "
        "loop again), else the span stays without text; hallucinations.json's redecoded lists "
        "each span and its outcome. faster-whisper backends only (not mlx)")


def _environment(params: AsrParams, ctx: ResolveContext) -> str:
    return "mlx" if params.backend == "mlx" else "whisperx"


def resolve(params: AsrParams, ctx: ResolveContext) -> AsrParams:
    """Fill what the machine and the job decide: model, device, compute type, language."""

    from shared.errors import EnvironmentMissingError, InputError

    defaults = ctx.hardware.defaults
    backend = params.backend or defaults.asr_backend
    mlx_env = ctx.hardware.environments.get("mlx")
    if backend == "mlx" and (mlx_env is None or not mlx_env.applicable):
        raise EnvironmentMissingError(
            "the mlx backend runs only on Apple Silicon (mlx-whisper); this machine is "
            f"{ctx.hardware.platform}", fix="use --set asr.backend=faster-whisper (CPU) or "
            "batched (GPU)")
    update: dict = {"backend": backend,
                    "batch_size": params.batch_size or max(1, defaults.batch_size)}
    update["model"] = choose_model(
        params.model, ctx, what="ASR model", slot="asr_mlx" if backend == "mlx" else "asr",
        aliases=_whisper_aliases(params.model), unknown_fix=(
            f"use a Whisper size ({', '.join(WHISPER_SIZES)}), a registry name "
            "(./cache-models.sh --list), a hub repo id or a local folder"),
        missing_fix="   (or pick a cached model: ./cache-models.sh --list)")
    language = params.language or (None if ctx.job.source_lang == "auto"
                                    else ctx.job.source_lang)
    if update["model"].endswith(".en") and language not in (None, "en"):
        raise InputError(f"{update['model']} is an English-only model; it cannot transcribe "
                         f"'{language}'", fix="use a multilingual model, e.g. "
                         "--set asr.model=small")
    device = device_for(params.device, ctx)
    update["device"] = device
    compute = params.compute_type or defaults.compute_type
    if device == "cpu" and compute in ("float16", "int8_float16", "bfloat16"):
        logger.warning("compute type %s is not supported on the CPU: using int8", compute)
        compute = "int8"
    update["compute_type"] = compute
    update["cpu_threads"] = params.cpu_threads or defaults.cpu_threads
    update["language"] = language
    return params.model_copy(update=update)


def _whisper_aliases(setting: str | None) -> tuple[str, ...]:
    """What a short --set asr.model=small may name: the registry's faster-whisper-small, or
    Systran's conversion of that Whisper size."""
    if not setting or "/" in setting:
        return ()
    sizes = (f"Systran/faster-whisper-{setting}",) if setting in WHISPER_SIZES else ()
    return (f"faster-whisper-{setting}", *sizes)


def model_refs(params: AsrParams, ctx: ResolveContext) -> list[ModelRef]:
    assert params.model
    return [model_ref(params.model, ctx)]


SPEC = StageSpec(
    name="asr",
    version=1,
    params=AsrParams,
    inputs={"audio": ("source_separation:vocals_16k.wav", "demux:audio_16k.wav"),
            "speech": "vad:speech_segments.json?",
            "glossary": "glossary:glossary.json?"},
    outputs=("segments.json", "segments.jsonl", "hallucinations.json"),
    description="transcribe speech with Whisper",
    environments=("whisperx", "mlx"),
    choose_environment=_environment,
    resolve=resolve,
    models=model_refs,
    process="stages.asr.decode:process",
    setup="stages.asr.decode:setup",
    warm_imports=("ctranslate2", "faster_whisper"),
)
