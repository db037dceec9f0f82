"""alignment: word times for every segment, and segments re-cut at sentence ends.

A wav2vec2 CTC model aligns the transcript to the audio (WhisperX forced alignment) when one
is cached for the segment's language (config/models.toml [aligners], or --set
alignment.model=...); otherwise Whisper's own word timestamps from the asr stage are used.
Either way the words are then cleaned up the same way (stages.alignment.words).

This module is the contract (Params, SPEC) and what the runner calls in the common venv
(resolve, model_refs); the work is in stages.alignment.run, in the whisperx venv:
`python -m shared.stage_main stages.alignment --job DIR`.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from shared.model_choice import choose_model, device_for, model_ref
from shared.stage import ModelRef, ResolveContext, StageParams, StageSpec
from stages.alignment.words import SENTENCE_ENDINGS

logger = logging.getLogger(__name__)

FALLBACK = "whisper-word-timestamps"
EVERY_LANGUAGE = "*"


class AlignmentParams(StageParams):
    model: str | None = Field(
        None, description="a wav2vec2 CTC model for every segment, whatever its language: "
        "registry name (wav2vec2-hindi), hub repo id or local folder; it must be cached. "
        "None: per language, the first cached model config/models.toml [aligners] lists")
    aligners: dict[str, str] = Field(
        default_factory=dict, description="language -> wav2vec2 model (registry name, repo id "
        "or folder) for this job, on top of config/models.toml [aligners]; after resolve: "
        "the cached aligner of each language the segments may be in ('*': every language). "
        "Empty after resolve: Whisper's word timestamps everywhere")
    device: str | None = Field(None, description="cpu or cuda; default: the machine's")
    cpu_threads: int = Field(0, ge=0, description="torch threads on the CPU; 0 = the machine's")
    interpolate_method: Literal["nearest", "linear", "ignore"] = Field(
        "nearest", description="whisperx: times of words inside a segment that the model "
        "could not place (the stage then spreads any still missing over the gap)")
    return_char_alignments: bool = Field(
        False, description="wav2vec2: also record each word's characters with their times")
    split_sentences: bool = Field(True, description="cut segments at sentence ends")
    sentence_endings: str = Field(
        SENTENCE_ENDINGS, min_length=1, description="characters that end a sentence (a '.' "
        "or an ellipsis not before a lower-case word, nor after an abbreviation)")


def _job_language(ctx: ResolveContext) -> str | None:
    """The language asr will write, when the job fixes it (else None: detected)."""
    forced = ctx.job.overrides.get("asr", {}).get("language")
    if forced:
        return forced
    return None if ctx.job.source_lang == "auto" else ctx.job.source_lang


def resolve(params: AlignmentParams, ctx: ResolveContext) -> AlignmentParams:
    """Decide, before the stage runs, which cached aligner each language gets (so the
    fingerprint sees it); a language with none falls back to Whisper's word times."""
    defaults = ctx.hardware.defaults
    hub = ctx.hardware.cache.hf_hub_cache
    language = _job_language(ctx)
    aligners: dict[str, str] = {}
    model = None
    if params.model:
        model = _cached_model(params.model, ctx)
        aligners[EVERY_LANGUAGE] = model
    else:
        languages = [language] if language else list(ctx.models.aligners)
        for lang in languages:
            spec = ctx.models.aligner(lang, hub, ctx.offered)
            if spec is not None and spec.repo_id:
                aligners[lang] = spec.repo_id
        for lang, ref in params.aligners.items():  # the job's own choices win
            if language is None or lang in (language, EVERY_LANGUAGE):
                aligners[lang] = _cached_model(ref, ctx)
        if language and not aligners:
            logger.info("alignment: no wav2vec2 model cached for '%s': Whisper's word "
                        "timestamps are used", language)
    device = device_for(params.device, ctx)
    return params.model_copy(update={
        "model": model, "aligners": aligners, "device": device,
        "cpu_threads": params.cpu_threads or defaults.cpu_threads})


def _cached_model(ref: str, ctx: ResolveContext) -> str:
    """A registry name, hub repo id or local folder -> the repo id (or folder) to load; it
    must be in the cache (a run never downloads)."""
    return choose_model(ref, ctx, what="alignment model")


def model_refs(params: AlignmentParams, ctx: ResolveContext) -> list[ModelRef]:
    return [model_ref(ref, ctx) for ref in dict.fromkeys(params.aligners.values())]


SPEC = StageSpec(
    name="alignment",
    version=1,
    params=AlignmentParams,
    inputs={"segments": "asr:segments.json",
            "audio": ("source_separation:vocals_16k.wav", "demux:audio_16k.wav")},
    outputs=("aligned.json",),
    description="word times by wav2vec2 forced alignment (or Whisper's), sentence segments",
    environments=("whisperx",),
    resolve=resolve,
    models=model_refs,
    process="stages.alignment.run:process",
    setup="stages.alignment.run:setup",
)
