"""translation_llm: translate or refine subtitle lines with an LLM (Anthropic or OpenAI, or
an OpenAI-compatible local server), in the llm venv, after the NMT `translation` stage.

`--set translation.engine=llm`: the LLM translates every line (the NMT output, when there is
one, is shown to it as a draft). `--set translation.engine=hybrid`: the NMT output stands
except for the lines it probably got wrong (songs, low confidence, copied source, wrong
script, loops, odd length, user patterns: stages.translation_llm.selection), which the LLM
refines. Lines go in blocks with their neighbours, the film's context and the glossary; each
reply is validated (same ids, none merged or missing), asked again when it is not, and cached
on disk, so a re-run costs nothing. usage.json records requests, tokens, cache hits and the
estimated cost; a budget stops LLM use when reached. When the LLM is unavailable (no key,
auth, quota, network), over budget or never gives a usable reply, the NMT output stands and
the stage succeeds, its outcome marked degraded. Lines left with no translation at all (no
draft) fail the stage, unless translation.allow_untranslated is set (carried in the draft's
segments.json): then they show their source text, marked in qc.json, and the job is degraded.

This module is the contract (Params, SPEC, resolve, model_refs); the work is in run.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.stage import ModelRef, ResolveContext, StageParams, StageSpec

MODES = ("llm", "hybrid")


class LlmParams(StageParams):
    mode: Literal["llm", "hybrid"] | None = Field(
        None, description="set from translation.engine: llm = the LLM translates every line; "
        "hybrid = it refines only the lines the NMT engine handled badly")
    provider: Literal["anthropic", "openai"] = Field(
        "anthropic", description="anthropic (Messages API) or openai (Chat Completions; also "
        "OpenAI-compatible local servers through base_url)")
    model: str | None = Field(
        None, description="model name; default: claude-sonnet-4-5 (anthropic), gpt-4o-mini "
        "(openai)")
    base_url: str | None = Field(
        None, description="API address; None: $ANTHROPIC_BASE_URL / $OPENAI_BASE_URL or the "
        "SDK's default. OpenAI-compatible servers: include /v1 (http://localhost:8080/v1)")
    block_size: int = Field(40, ge=1, le=500, description="lines per request")
    context_lines: int = Field(3, ge=0, le=50, description="neighbouring lines shown before "
                               "and after each line sent (not translated)")
    temperature: float | None = Field(
        0.0, ge=0.0, le=2.0, description="openai only (the Anthropic SDK 2.x sends none); None: "
        "the server's default (for models that accept no temperature)")
    max_output_tokens: int = Field(8192, ge=256, description="anthropic: max_tokens per reply")
    structured_output: bool = Field(
        True, description="ask for the reply's JSON schema (Anthropic output_config, OpenAI "
        "response_format); turn off for servers that do not support it")
    max_retries: int = Field(2, ge=0, le=10, description="SDK retries of 408/409/429/5xx and "
                             "connection errors (honouring retry-after)")
    repair_attempts: int = Field(2, ge=0, le=5, description="a reply with missing, merged or "
                                 "extra lines is asked again this many times, then the block "
                                 "keeps its draft")
    timeout_s: float = Field(120.0, gt=0, description="seconds per request")
    budget_usd: float | None = Field(
        None, ge=0.0, description="stop calling the LLM when the estimated cost reaches this "
        "(the rest keeps the draft); None = no limit")
    price_input_per_mtok: float | None = Field(
        None, ge=0.0, description="USD per million input tokens; default: the table in "
        "stages/translation_llm/budget.py (unknown model: cost unknown)")
    price_output_per_mtok: float | None = Field(None, ge=0.0,
                                                description="USD per million output tokens")
    cache: bool = Field(True, description="reuse replies stored on disk (same provider, model "
                        "and prompt): a re-run makes no requests")
    cache_dir: str | None = Field(None, description="set by resolve: the llm application "
                                  "cache (.cache/app/llm)")
    credentials: str | None = Field(
        None, description="set by resolve: where the API key was found (a variable name or the "
        "keys file), never the key; a key added later re-runs the stage")
    min_confidence: float = Field(-1.0, description="hybrid: lines whose NMT confidence (mean "
                                  "token log-probability) is below this are refined")
    max_length_ratio: float = Field(3.0, gt=1.0, description="hybrid: outputs this many times "
                                    "longer (or shorter) than the source are refined")
    patterns: list[str] = Field(
        default_factory=list, description="hybrid: regular expressions; source lines matching "
        "one (idioms, proverbs, wordplay) are refined")


def resolve(params: LlmParams, ctx: ResolveContext) -> LlmParams:
    """The mode from translation.engine, the provider's default model, the cache folder, and
    where the key is (so that adding one later changes the fingerprint)."""
    import re

    from shared import keys
    from shared.errors import InputError
    from stages.translation_llm.providers import DEFAULT_MODELS

    engine = (ctx.job.overrides.get("translation") or {}).get("engine")
    mode = engine if engine in MODES else (params.mode or "hybrid")
    for pattern in params.patterns:
        try:
            re.compile(pattern)
        except re.error as e:
            raise InputError(f"translation_llm.patterns: '{pattern}' is not a regular "
                             f"expression ({e})", fix="fix the pattern in --set "
                             "translation_llm.patterns=[...]") from e
    cache_dir = None
    if params.cache:
        caches = ctx.hardware.cache.application_caches
        cache_dir = str(caches.get("llm") or ctx.hardware.cache.base_dir / "app" / "llm")
    credential = keys.find(params.provider)
    return params.model_copy(update={
        "mode": mode,
        "model": params.model or DEFAULT_MODELS[params.provider],
        "cache_dir": cache_dir,
        "credentials": credential.source if credential else None,
    })


def model_refs(params: LlmParams, ctx: ResolveContext) -> list[ModelRef]:
    """A hosted model has no revision to pin: provider, model and address identify it."""
    return [ModelRef(name=f"{params.provider}:{params.model}", repo_id=None,
                     revision=params.base_url or "api")]


SPEC = StageSpec(
    name="translation_llm",
    version=1,
    params=LlmParams,
    inputs={"draft": "translation:segments.json", "metadata": "metadata:metadata.json?",
            "glossary": "glossary:glossary.json?"},
    outputs=("segments.json", "usage.json"),
    description="translate or refine subtitle lines with an LLM",
    environments=("llm",),
    resolve=resolve,
    models=model_refs,
    process="stages.translation_llm.run:process",
)
