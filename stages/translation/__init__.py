"""translation: a transcript into one target language, one translated line per segment.

This module is the stage's contract (Params, SPEC, routing, resolve), importable in the common
venv. The work is in stages.translation.run, which runs in the venv of the machine-translation
engine the route picks: indictrans2 (Indic <-> English, Indic <-> Indic) or nllb (every other
pair of FLORES-200 languages). `--set translation.engine=llm|hybrid` adds the translation_llm
stage after this one (the LLM translates, or refines the lines the NMT handles badly); this
stage then provides the draft and the fallback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.languages import translation_route as route
from shared.model_choice import choose_model, device_for, model_ref
from shared.stage import ModelRef, ResolveContext, StageParams, StageSpec

logger = logging.getLogger(__name__)

ENGINES = ("auto", "indictrans2", "nllb", "llm", "hybrid")
LLM_ENGINES = ("llm", "hybrid")


class TranslationParams(StageParams):
    engine: Literal["auto", "indictrans2", "nllb", "llm", "hybrid"] = Field(
        "auto", description="auto: IndicTrans2 for Indic<->English and Indic<->Indic, NLLB for "
        "other pairs; llm: the translation_llm stage translates (this stage's NMT output is its "
        "draft and fallback); hybrid: NMT, then the LLM refines songs and low-confidence lines")
    model: str | None = Field(
        None, description="NMT model: registry name (./cache-models.sh --list), hub repo id or "
        "local folder; default: the machine profile's first cached model for the direction")
    device: str | None = Field(None, description="cpu, cuda or mps; default: the profile's")
    batch_size: int = Field(0, ge=0, description="lines per generate call; 0 = 8 on CPU, 32 on "
                            "a GPU")
    num_beams: int = Field(4, ge=1, description="beam search width")
    block_size: int = Field(
        64, ge=1, description="lines (or pieces of long lines) translated between two "
        "checkpoints: a killed run resumes after the last finished block")
    max_chars: int = Field(400, ge=50, description="longer lines are translated sentence by "
                           "sentence (then clause by clause) and joined: nothing is truncated")
    merge_fragments: bool = Field(
        True, description="translate a sentence cut across segments as one sentence and split "
        "the translation back, one line per segment")
    passthrough: bool = Field(
        True, description="keep lines already in the target language or script (Hinglish in "
        "Latin script for English) as they are")
    protect_glossary: bool = Field(
        True, description="replace the job glossary's terms and the film's names by "
        "placeholders before translation, put their preferred translations back after, and "
        "rewrite their alternative spellings in the output (Sri -> Shree)")
    allow_untranslated: bool = Field(
        False, description="lines the engine (or the LLM) leaves untranslated (empty output, "
        "the source text unchanged, or output mostly outside the target language's script: "
        "English for a Hindi target) fail the stage, so a target track never shows source "
        "lines as a translation; true: they keep their source text, are marked in qc.json "
        "and the job ends degraded (translation_llm reads this from segments.json)")
    # Filled by resolve (the route): the engine that runs here and the language pair.
    nmt: Literal["indictrans2", "nllb", "none"] | None = None
    source_lang: str | None = None


def _environment(params: TranslationParams, ctx: ResolveContext) -> str:
    """The venv of the engine the route picked (resolve fills ``nmt``; before it, the route)."""
    nmt = params.nmt or route(ctx.job.source_lang, ctx.lang, params.engine)
    return {"indictrans2": "indictrans2", "nllb": "nllb"}.get(nmt, "common")


def direction_slot(nmt: str, source: str, target: str) -> str:
    if nmt == "nllb":
        return "translation.nllb"
    if target == "en":
        return "translation.indic_en"
    if source == "en":
        return "translation.en_indic"
    return "translation.indic_indic"


def resolve(params: TranslationParams, ctx: ResolveContext) -> TranslationParams:
    """Route the pair, pick the model the cache holds, and the device and batch size."""
    from shared.errors import ModelMissingError

    source, target = ctx.job.source_lang, ctx.lang
    nmt = route(source, target, params.engine)
    model = None
    if params.model is not None:
        model, nmt = _model_from_user(params.model, nmt, ctx)
    elif nmt != "none":
        try:
            model = choose_model(None, ctx, what="translation model",
                                 slot=direction_slot(nmt, source, target))
        except ModelMissingError:
            if params.engine != "llm":
                raise
            logger.warning("no %s model is cached: the LLM translates without a draft", nmt)
            nmt = "none"
    device = device_for(params.device, ctx, ("cpu", "cuda", "mps"))
    batch = params.batch_size or (8 if device == "cpu" else 32)
    return params.model_copy(update={"nmt": nmt, "model": model, "device": device,
                                     "batch_size": batch, "source_lang": source})


def _model_from_user(ref: str, nmt: str, ctx: ResolveContext) -> tuple[str, str]:
    """--set translation.model=...: a registry name, repo id or folder; its engine wins."""
    folder = Path(ref).expanduser()
    if folder.is_dir():
        return str(folder.resolve()), ("indictrans2" if "indictrans" in folder.name.lower()
                                       else nmt)
    spec = ctx.models.by_repo_or_name(ref)
    repo_id = spec.repo_id if spec and spec.repo_id else ref
    engine = spec.env if spec and spec.env in ("indictrans2", "nllb") else (
        "indictrans2" if "indictrans2" in repo_id.lower() else "nllb" if "nllb" in
        repo_id.lower() else nmt)
    if engine != nmt and nmt != "none":
        route(ctx.job.source_lang, ctx.lang, engine)  # the model's engine must cover the pair
    return choose_model(ref, ctx, what="translation model"), engine


def model_refs(params: TranslationParams, ctx: ResolveContext) -> list[ModelRef]:
    return [model_ref(params.model, ctx)] if params.model else []


SPEC = StageSpec(
    name="translation",
    version=1,
    params=TranslationParams,
    inputs={"segments": ("songs:segments.json", "alignment:aligned.json", "asr:segments.json"),
            "glossary": ("glossary:glossary.json?", "job:glossary?")},
    outputs=("segments.json",),
    description="translate the transcript (IndicTrans2 / NLLB)",
    environments=("nllb", "indictrans2", "common"),
    choose_environment=_environment,
    resolve=resolve,
    models=model_refs,
    process="stages.translation.run:process",
    setup="stages.translation.run:setup",
    warm_imports=("torch", "transformers"),
)
