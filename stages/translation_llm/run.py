"""The translation_llm stage's work, in the llm venv: read the NMT draft, pick the lines to
send, translate them block by block (blocks.py), and write segments.json (the draft's shape;
"origin": "llm" for the lines the LLM wrote, "draft": the NMT text they replace) and
usage.json. Lines that kept the NMT draft make the job degraded; lines left untranslated
(no draft, or a draft the NMT could not translate) fail the stage unless the draft's
segments.json allows them (translation.allow_untranslated)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from shared import atomic, keys
from shared.stage import StageOutcome, StageRequest
from stages.translation import lines as line_rules
from stages.translation import untranslated
from stages.translation_llm import LlmParams, prompt, resume, selection
from stages.translation_llm.blocks import Translator, plan
from stages.translation_llm.budget import Usage, price_for
from stages.translation_llm.cache import ResponseCache
from stages.translation_llm.prompt import REPLY_SCHEMA
from stages.translation_llm.providers import (
    BASE_URL_VARIABLES,
    Client,
    Settings,
    Unavailable,
    is_loopback,
)

logger = logging.getLogger(__name__)


def _language(code: str | None) -> tuple[str, str | None]:
    """(display name, ISO 15924 script) from config/languages.toml; the code itself when
    the table does not know it."""
    if not code:
        return "the source language", None
    try:
        from shared.languages import load_languages

        lang = load_languages().get(code)
        return lang.name, lang.script
    except Exception:  # noqa: BLE001 - a name is a nicety; the code will do
        return code, None


def _read_json(path: Path | None) -> dict | None:
    if path is None or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text("utf-8"))


def _lines(segments: list[dict], has_draft: bool) -> dict[int, prompt.Line]:
    out = {}
    for seg in segments:
        source = str(seg.get("source_text") or "").strip()
        text = str(seg.get("text") or "").strip()
        draft = text if has_draft and text and text != source and seg.get("origin") not in (
            "untranslated",) else None
        out[int(seg["id"])] = prompt.Line(int(seg["id"]), source or text, draft,
                                          bool(seg.get("lyrics")))
    return out


def _connect(params: LlmParams):
    def connect() -> Client:
        credential = keys.find(params.provider)
        base_url = params.base_url or os.environ.get(BASE_URL_VARIABLES[params.provider])
        if credential is None and not (params.provider == "openai" and is_loopback(base_url)):
            raise Unavailable(f"no API key: {keys.missing_key_fix(params.provider)}")
        logger.info("%s %s at %s (key from %s)", params.provider, params.model,
                    base_url or "the default API", credential.source if credential else
                    "nowhere: local server")
        assert params.model
        settings = Settings(params.provider, params.model, params.base_url, params.timeout_s,
                            params.max_retries, params.max_output_tokens, params.temperature,
                            params.structured_output, REPLY_SCHEMA)
        try:
            return Client(settings, credential)
        except Exception as e:  # noqa: BLE001 - an SDK that refuses its settings
            raise Unavailable(keys.redact(f"cannot create the {params.provider} client: {e}",
                                          credential.value if credential else None)) from None
    return connect


def _glossary_terms(request: StageRequest, draft: dict) -> list[dict]:
    """Every term of the glossary stage (the job's, the film's names, the project's starter
    lines), else the terms the draft applied."""
    path = request.inputs.get("glossary")
    if path is None:
        return draft.get("glossary") or []
    data = json.loads(Path(path).read_text("utf-8"))
    return [{"term": t["term"], "translation": (t.get("translations") or [t["term"]])[0],
             "alternatives": t.get("alternatives", []), "context": t.get("context", "")}
            for t in data.get("terms", [])]


def process(request: StageRequest, state=None) -> StageOutcome:
    params = request.params_as(LlmParams)
    for name in ("httpx2", "httpx"):  # one INFO line per request: the blocks say enough
        logging.getLogger(name).setLevel(logging.WARNING)
    assert params.model and params.mode
    draft = _read_json(request.inputs["draft"]) or {}
    metadata = _read_json(request.inputs.get("metadata"))
    segments: list[dict] = draft.get("segments", [])
    draft_engine = draft.get("engine") or "none"
    has_draft = draft_engine != "none"
    source_name, source_script = _language(draft.get("source_language"))
    target_code = request.lang or draft.get("language")
    target_name, target_script = _language(target_code)

    rules = selection.Rules(min_confidence=params.min_confidence,
                            max_length_ratio=params.max_length_ratio,
                            target_script=target_script, patterns=tuple(params.patterns))
    mode = params.mode if has_draft else "llm"  # no draft: every line needs the LLM
    chosen = selection.select(segments, mode, rules)
    usage = Usage(params.provider, params.model,
                  price_for(params.model, params.price_input_per_mtok,
                            params.price_output_per_mtok), params.budget_usd,
                  lines_selected=len(chosen))
    logger.info("%s -> %s, %s mode, draft %s: %d of %d lines to send", source_name,
                target_name, mode, draft_engine, len(chosen), len(segments))

    translated: dict[int, str] = {}
    glossary = _glossary_terms(request, draft)
    if chosen:
        lines = _lines(segments, has_draft)
        film = prompt.Film.from_metadata(request.title, _job_year(request), metadata)
        translator = Translator(
            provider=params.provider, model=params.model,
            system=prompt.system_prompt(prompt.Languages(source_name, target_name), has_draft),
            render=lambda block: prompt.user_prompt(block.lines, film=film,
                                                    glossary=glossary,
                                                    context=block.context),
            cache=ResponseCache(Path(params.cache_dir) if params.cache and params.cache_dir
                                else None),
            usage=usage, connect=_connect(params), repair_attempts=params.repair_attempts,
            checkpoint=resume.Blocks(request))
        translated = translator.run(plan(segments, list(chosen), lines, params.block_size,
                                         params.context_lines))
        translated = _no_copies(translated, segments, source_script, target_script, usage)
    usage.lines_translated = len(translated)

    missing = [i for i in chosen if i not in translated]
    if usage.unavailable and has_draft:
        usage.warnings.insert(0, f"llm unavailable: {usage.unavailable}; NMT output kept for "
                              f"{len(missing)} line(s) (re-run with --force translation_llm "
                              "once it is back: cached blocks cost nothing)")
        logger.warning("%s", usage.warnings[0])
    elif missing and not has_draft:
        usage.warnings.append(f"{len(missing)} line(s) left untranslated (no NMT draft)")

    out_segments = []
    for seg in segments:
        line_id = int(seg["id"])
        new = dict(seg)
        if line_id in translated:
            if has_draft:
                new["draft"] = seg.get("text")
            new.update(text=translated[line_id], origin="llm", confidence=None)
        elif line_id in chosen and not has_draft:
            new["origin"] = "untranslated"
        out_segments.append(new)

    output = request.output("segments.json")
    atomic.write_json(output, {
        **{k: v for k, v in draft.items() if k != "segments"},
        "language": target_code, "engine": mode, "provider": params.provider,
        "model": params.model, "draft_engine": draft_engine, "draft_model": draft.get("model"),
        "segments": out_segments, "glossary": draft.get("glossary") or []})
    usage_json = usage.as_json()
    usage_json["mode"] = mode
    if mode == "hybrid":
        usage_json["selected"] = [{"id": i, "reasons": why, "llm": i in translated}
                                  for i, why in chosen.items()]
    usage_path = request.output("usage.json")
    atomic.write_json(usage_path, usage_json)
    resume.finish(request)
    degraded = _degraded(params, usage, out_segments, missing, has_draft, draft,
                         (target_name, source_name))
    cost = usage_json["estimated_cost_usd"]
    logger.info("%d of %d lines from the llm; %d request(s), %d cached block(s), %s+%s "
                "tokens, cost %s", len(translated), len(chosen), usage.requests,
                usage.cache_hits, usage.input_tokens, usage.output_tokens,
                "unknown" if cost is None else f"${cost:.4f}")
    info = {"mode": mode, "provider": params.provider, "model": params.model,
            "lines_selected": len(chosen), "lines_llm": len(translated),
            "requests": usage.requests, "cache_hits": usage.cache_hits,
            "estimated_cost_usd": cost, "warnings": usage.warnings}
    if usage.unavailable and usage.warnings:
        info["warning"] = usage.warnings[0]
    return StageOutcome(outputs=[output, usage_path], info=info, degraded=degraded)


def _no_copies(translated: dict[int, str], segments: list[dict], source_script: str | None,
               target_script: str | None, usage: Usage) -> dict[int, str]:
    """The LLM's lines less those that are no translation (empty, or the source repeated):
    for those the draft stands, or the line stays untranslated."""
    sources = {int(s["id"]): str(s.get("source_text") or s.get("text") or "")
               for s in segments}
    copies = [i for i, text in translated.items()
              if line_rules.untranslated(sources[i], text, source_script, target_script)]
    if copies:
        usage.last_problem = (f"the reply repeated the source text for {len(copies)} "
                              f"line(s) (ids {', '.join(map(str, copies[:10]))})")
        logger.warning("%s", usage.last_problem)
    return {i: text for i, text in translated.items() if i not in copies}


def _why(usage: Usage) -> str:
    """Why lines the LLM was asked for got no translation from it."""
    if usage.unavailable:
        return f"llm unavailable: {usage.unavailable}"
    if usage.budget_exhausted:
        return f"the budget of ${usage.budget_usd} was reached"
    if usage.last_problem:
        return f"no usable reply; the last problem: {usage.last_problem}"
    return "the LLM gave no translation"


def _fixes(params: LlmParams, usage: Usage) -> list[str]:
    if usage.unavailable:
        return [f"a valid key and a reachable provider: {keys.missing_key_fix(params.provider)}"]
    if usage.budget_exhausted:
        return ["raise --set translation_llm.budget_usd=... (cached blocks cost nothing)"]
    return ["smaller blocks: --set translation_llm.block_size=10",
            "another model: --set translation_llm.model=..."]


def _degraded(params: LlmParams, usage: Usage, out_segments: list[dict], missing: list[int],
              has_draft: bool, draft: dict, names: tuple[str, str]) -> list[str]:
    """One sentence for lines that fell back from the LLM to the NMT draft; then lines left
    untranslated: the stage's error, or a second sentence when the draft allows them."""
    target, source = names
    by_id = {int(s["id"]): s for s in out_segments}
    fell_back = [i for i in missing if has_draft and by_id[i].get("origin") != "untranslated"]
    degraded = []
    if fell_back:
        degraded.append(
            f"{len(fell_back)} line(s) kept the {draft.get('engine')} draft instead of the "
            f"LLM's translation ({_why(usage)}); fix: {'; or '.join(_fixes(params, usage))}; "
            "then re-run with --force translation_llm (cached blocks cost nothing)")
        logger.warning("%s", degraded[-1])
    if not untranslated.rows_left(out_segments):
        return degraded
    fixes = ["an NMT draft to fall back on: cache an NMT model (./cache-models.sh --stage "
             "translation) and use --set translation.engine=hybrid" if not has_draft else
             "another NMT engine for the draft: --set translation.engine=hybrid with "
             "--set translation.model=NAME", *_fixes(params, usage)]
    if not draft.get("allow_untranslated"):
        raise untranslated.refuse(out_segments, _why(usage), fixes, target, source)
    degraded.append(untranslated.degraded(out_segments, _why(usage), fixes, target, source))
    logger.warning("%s", degraded[-1])
    return degraded


def _job_year(request: StageRequest) -> int | None:
    """The job's year from job.json (the request carries only the title)."""
    try:
        job = json.loads((request.job_dir / "job.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    year = job.get("year")
    return year if isinstance(year, int) else None
