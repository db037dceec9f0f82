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
from dataclasses import dataclass
from pathlib import Path

from shared import atomic, keys, transcript
from shared.stage import StageOutcome, StageRequest
from shared.text_script import script_name
from shared.transcript import Line, Translation
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


def _lines(segments: list[Line], has_draft: bool) -> dict[int, prompt.Line]:
    out = {}
    for seg in segments:
        source, text = seg.source_text.strip(), seg.text.strip()
        draft = text if has_draft and text and text != source and \
            seg.origin != "untranslated" else None
        out[seg.id] = prompt.Line(seg.id, source or text, draft, seg.lyrics)
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


def _glossary_terms(request: StageRequest, draft: Translation) -> list[dict]:
    """Every term of the glossary stage (the job's, the film's names, the project's starter
    lines), else the terms the draft applied."""
    path = request.inputs.get("glossary")
    if path is None:
        return draft.glossary
    data = json.loads(Path(path).read_text("utf-8"))
    return [{"term": t["term"], "translation": (t.get("translations") or [t["term"]])[0],
             "alternatives": t.get("alternatives", []), "context": t.get("context", "")}
            for t in data.get("terms", [])]


@dataclass(frozen=True)
class Languages:
    """The draft's languages by name and script (for the prompt and the checks)."""

    source_name: str
    source_script: str | None
    target_code: str
    target_name: str
    target_script: str | None

    @classmethod
    def of(cls, request: StageRequest, draft: Translation) -> Languages:
        target_code = request.lang or draft.language
        return cls(*_language(draft.source_language), target_code, *_language(target_code))


def _translate(request: StageRequest, params: LlmParams, draft: Translation, names: Languages,
               chosen: dict[int, list[str]], usage: Usage) -> dict[int, str]:
    """Line id -> the LLM's translation, for the chosen lines it translated usably."""
    if not chosen:
        return {}
    has_draft = draft.engine != "none"
    glossary = _glossary_terms(request, draft)
    film = prompt.Film.from_metadata(request.title, _job_year(request),
                                     _read_json(request.inputs.get("metadata")))
    translator = Translator(
        provider=params.provider, model=params.model,
        system=prompt.system_prompt(prompt.Languages(names.source_name, names.target_name),
                                    has_draft),
        render=lambda block: prompt.user_prompt(block.lines, film=film, glossary=glossary,
                                                context=block.context),
        cache=ResponseCache(Path(params.cache_dir) if params.cache and params.cache_dir
                            else None),
        usage=usage, connect=_connect(params), repair_attempts=params.repair_attempts,
        checkpoint=resume.Blocks(request))
    translated = translator.run(plan(draft.segments, list(chosen),
                                     _lines(draft.segments, has_draft), params.block_size,
                                     params.context_lines))
    return _no_copies(translated, draft.segments, names.source_script, names.target_script,
                      usage)


def _warn_missing(usage: Usage, missing: list[int], has_draft: bool) -> None:
    if usage.unavailable and has_draft:
        usage.warnings.insert(0, f"llm unavailable: {usage.unavailable}; NMT output kept for "
                              f"{len(missing)} line(s) (re-run with --force translation_llm "
                              "once it is back: cached blocks cost nothing)")
        logger.warning("%s", usage.warnings[0])
    elif missing and not has_draft:
        usage.warnings.append(f"{len(missing)} line(s) left untranslated (no NMT draft)")


def _merged(draft: Translation, translated: dict[int, str], chosen: dict[int, list[str]]
            ) -> list[Line]:
    """The draft's lines with the LLM's in place ("origin": "llm", the NMT text kept as
    ``draft``); without a draft a chosen line the LLM did not translate stays untranslated."""
    has_draft = draft.engine != "none"
    out = []
    for line in draft.segments:
        new = line.model_copy()
        if line.id in translated:
            if has_draft:
                new.draft = line.text
            new.text, new.origin, new.confidence = translated[line.id], "llm", None
        elif line.id in chosen and not has_draft:
            new.origin = "untranslated"
        out.append(new)
    return out


def _usage_json(usage: Usage, mode: str, chosen: dict[int, list[str]],
                translated: dict[int, str]) -> dict:
    out = usage.as_json()
    out["mode"] = mode
    if mode == "hybrid":
        out["selected"] = [{"id": i, "reasons": why, "llm": i in translated}
                           for i, why in chosen.items()]
    return out


def process(request: StageRequest, state=None) -> StageOutcome:
    params = request.params_as(LlmParams)
    for name in ("httpx2", "httpx"):  # one INFO line per request: the blocks say enough
        logging.getLogger(name).setLevel(logging.WARNING)
    assert params.model and params.mode
    draft = transcript.load_translation(Path(request.inputs["draft"]))
    has_draft = draft.engine != "none"
    names = Languages.of(request, draft)
    rules = selection.Rules(min_confidence=params.min_confidence,
                            max_length_ratio=params.max_length_ratio,
                            target_script=names.target_script, patterns=tuple(params.patterns))
    mode = params.mode if has_draft else "llm"  # no draft: every line needs the LLM
    chosen = selection.select(draft.segments, mode, rules)
    usage = Usage(params.provider, params.model,
                  price_for(params.model, params.price_input_per_mtok,
                            params.price_output_per_mtok), params.budget_usd,
                  lines_selected=len(chosen))
    logger.info("%s -> %s, %s mode, draft %s: %d of %d lines to send", names.source_name,
                names.target_name, mode, draft.engine, len(chosen), len(draft.segments))
    translated = _translate(request, params, draft, names, chosen, usage)
    usage.lines_translated = len(translated)
    missing = [i for i in chosen if i not in translated]
    _warn_missing(usage, missing, has_draft)
    lines = _merged(draft, translated, chosen)
    output = request.output("segments.json")
    transcript.save(output, draft.model_copy(update={
        "language": names.target_code, "engine": mode, "provider": params.provider,
        "model": params.model, "draft_engine": draft.engine, "draft_model": draft.model,
        "segments": lines, "glossary": draft.glossary}))
    usage_json = _usage_json(usage, mode, chosen, translated)
    usage_path = request.output("usage.json")
    atomic.write_json(usage_path, usage_json)
    resume.finish(request)
    degraded = _degraded(params, usage, lines, missing, draft, (names.target_name,
                                                                 names.source_name))
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


def _no_copies(translated: dict[int, str], segments: list[Line], source_script: str | None,
               target_script: str | None, usage: Usage) -> dict[int, str]:
    """The LLM's lines less those that are no translation (empty, the source repeated, or
    written mostly outside the target's script: English for a Hindi target): for those the
    draft stands, or the line stays untranslated."""
    sources = {s.id: s.source_text or s.text for s in segments}
    why = {i: line_rules.untranslated(sources[i], text, source_script, target_script)
           for i, text in translated.items()}
    copies = [i for i, reason in why.items() if reason and reason != line_rules.WRONG_SCRIPT]
    off = [i for i, reason in why.items() if reason == line_rules.WRONG_SCRIPT]
    problems = []
    if copies:
        problems.append(f"the reply repeated the source text for {len(copies)} line(s) (ids "
                        f"{', '.join(map(str, copies[:10]))})")
    if off:
        problems.append(f"the reply was not in the {script_name(target_script or '')} script "
                        f"for {len(off)} line(s) (ids {', '.join(map(str, off[:10]))})")
    if problems:
        usage.last_problem = "; ".join(problems)
        logger.warning("%s", usage.last_problem)
    return {i: text for i, text in translated.items() if not why[i]}


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


def _degraded(params: LlmParams, usage: Usage, out_segments: list[Line], missing: list[int],
              draft: Translation, names: tuple[str, str]) -> list[str]:
    """One sentence for lines that fell back from the LLM to the NMT draft; then lines left
    untranslated: the stage's error, or a second sentence when the draft allows them."""
    target, source = names
    has_draft = draft.engine != "none"
    by_id = {s.id: s for s in out_segments}
    fell_back = [i for i in missing if has_draft and by_id[i].origin != "untranslated"]
    degraded = []
    if fell_back:
        degraded.append(
            f"{len(fell_back)} line(s) kept the {draft.engine} draft instead of the "
            f"LLM's translation ({_why(usage)}); fix: {'; or '.join(_fixes(params, usage))}; "
            "then re-run with --force translation_llm (cached blocks cost nothing)")
        logger.warning("%s", degraded[-1])
    if not untranslated.rows_left(out_segments):
        return degraded
    fixes = ["an NMT draft to fall back on: cache an NMT model (./cache-models.sh --stage "
             "translation) and use --set translation.engine=hybrid" if not has_draft else
             "another NMT engine for the draft: --set translation.engine=hybrid with "
             "--set translation.model=NAME", *_fixes(params, usage)]
    if not draft.allow_untranslated:
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
