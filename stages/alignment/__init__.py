"""alignment: word times for every segment, and segments re-cut at sentence ends.

A wav2vec2 CTC model aligns the transcript to the audio (WhisperX forced alignment) when one
is cached for the segment's language (config/models.toml [aligners], or --set
alignment.model=...); otherwise Whisper's own word timestamps from the asr stage are used.
Either way the words are then cleaned up the same way (stages.alignment.words).

This module is the contract (Params, SPEC) and what the runner calls in the common venv
(resolve, model_refs); the work is in stages.alignment.run, in the whisperx venv:
`python -m stages.alignment --job DIR`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.stage import ModelRef, StageParams, StageSpec
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


SPEC = StageSpec(
    name="alignment",
    environment="whisperx",
    version=1,
    params=AlignmentParams,
    inputs={"segments": "asr:segments.json",
            "audio": ("source_separation:vocals_16k.wav", "demux:audio_16k.wav")},
    outputs=("aligned.json",),
    description="word times by wav2vec2 forced alignment (or Whisper's), sentence segments",
    code=("stages.alignment.run", "stages.alignment.wav2vec2", "stages.alignment.words",
          "shared.transcript"),
)


def _job_language(ctx) -> str | None:
    """The language asr will write, when the job fixes it (else None: detected)."""
    forced = ctx.job.overrides.get("asr", {}).get("language")
    if forced:
        return forced
    return None if ctx.job.source_lang == "auto" else ctx.job.source_lang


def resolve(params: AlignmentParams, ctx) -> AlignmentParams:
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
            spec = ctx.models.aligner(lang, hub)
            if spec is not None and spec.repo_id:
                aligners[lang] = spec.repo_id
        for lang, ref in params.aligners.items():  # the job's own choices win
            if language is None or lang in (language, EVERY_LANGUAGE):
                aligners[lang] = _cached_model(ref, ctx)
        if language and not aligners:
            logger.info("alignment: no wav2vec2 model cached for '%s': Whisper's word "
                        "timestamps are used", language)
    device = params.device or ("cuda" if defaults.device == "cuda" else "cpu")
    return params.model_copy(update={
        "model": model, "aligners": aligners, "device": device,
        "cpu_threads": params.cpu_threads or defaults.cpu_threads})


def _cached_model(ref: str, ctx) -> str:
    """A registry name, hub repo id or local folder -> the repo id (or folder) to load; it
    must be in the cache (a run never downloads)."""
    from shared import hf_cache
    from shared.errors import InputError, ModelMissingError
    from shared.model_fix import cache_model_fix

    if Path(ref).expanduser().is_dir():
        return str(Path(ref).expanduser().resolve())
    spec = ctx.models.by_repo_or_name(ref)
    repo_id = spec.repo_id if spec else ref
    if not repo_id or "/" not in repo_id:
        raise InputError(f"unknown alignment model '{ref}'",
                         fix="use a registry name (./cache-models.sh --list), a hub repo id "
                         "(org/name) or a local folder")
    hub = ctx.hardware.cache.hf_hub_cache
    if not hf_cache.is_cached(hub, repo_id):
        raise ModelMissingError(f"alignment model {repo_id} is not in the cache ({hub})",
                                fix=cache_model_fix(repo_id, hub, spec.name if spec else None))
    return repo_id


def model_refs(params: AlignmentParams, ctx) -> list[ModelRef]:
    from shared import hf_cache

    refs = []
    for ref in dict.fromkeys(params.aligners.values()):
        if Path(ref).is_dir():
            refs.append(ModelRef(name=ref, repo_id=None, revision="local"))
            continue
        spec = ctx.models.by_repo_or_name(ref)
        refs.append(ModelRef(name=spec.name if spec else ref, repo_id=ref,
                             revision=hf_cache.read_ref(ctx.hardware.cache.hf_hub_cache, ref)))
    return refs
