"""The translation stage's work, in the NMT engine's venv: prepare the lines (stages.translation
.lines), translate them with the engine loaded once per batch, write segments.json."""

from __future__ import annotations

import importlib
import json
import logging
import time
from pathlib import Path

from shared import atomic
from shared.languages import load_languages
from shared.stage import StageOutcome, StageRequest
from stages.translation import LLM_ENGINES, TranslationParams, lines, resume, untranslated
from stages.translation.engine import LanguagePair, Translation

logger = logging.getLogger(__name__)


def setup(requests: list[StageRequest]) -> dict:
    return {}  # engines load on first use, once per (engine, model, device) for the batch


def _engine(state: dict, params: TranslationParams):
    key = (params.nmt, params.model, params.device, params.batch_size, params.num_beams)
    if key not in state:
        module = importlib.import_module(f"stages.translation.{params.nmt}")
        started = time.monotonic()
        state[key] = module.load(params.model, params.device, params.batch_size,
                                 num_beams=params.num_beams)
        logger.info("loaded %s (%s) on %s in %.1fs", params.nmt, params.model, params.device,
                    time.monotonic() - started)
    return state[key]


def _glossary(request: StageRequest, params: TranslationParams
              ) -> tuple[dict[str, str], dict[str, str]]:
    """(term -> preferred translation, alternative spelling -> preferred): from the glossary
    stage's glossary.json, or straight from the job's TSV in a job without that stage."""
    path = request.inputs.get("glossary")
    if not params.protect_glossary or path is None:
        return {}, {}
    if Path(path).suffix == ".json":
        data = json.loads(Path(path).read_text("utf-8"))
        return data.get("protected", {}), data.get("alternatives", {})
    from shared import glossary

    loaded = glossary.load(Path(path))
    for duplicate in loaded.duplicates:
        logger.warning("glossary: %s", duplicate)
    spellings = {alt: t.translation for t in loaded.terms.values() for alt in t.alternatives
                 if alt not in loaded.terms}
    return {t.term: t.translation for t in loaded.terms.values()}, spellings


def process(request: StageRequest, state: dict) -> StageOutcome:
    params = request.params_as(TranslationParams)
    table = load_languages()
    assert params.source_lang and request.lang
    source, target = table.get(params.source_lang), table.get(request.lang)
    data = json.loads(Path(request.inputs["segments"]).read_text("utf-8"))
    segments = data.get("segments", [])
    terms, spellings = _glossary(request, params)

    rows: list[dict] = []
    texts: dict[int, str] = {}
    protections: dict[int, lines.Protection] = {}
    for i, seg in enumerate(segments):
        text = lines.clean(seg.get("text", ""))
        row = {"id": i, "start": seg["start"], "end": seg["end"], "text": text,
               "source_text": text, "confidence": None, "lyrics": bool(seg.get("lyrics")),
               "origin": "nmt"}
        if seg.get("language"):
            row["source_language"] = seg["language"]
        if not text:
            row["origin"] = "empty"
        elif params.passthrough and lines.already_in_target(
                text, seg.get("language"), source.code, target.code, source.script,
                target.script):
            row["origin"] = "passthrough"
        else:
            protections[i] = lines.protect(text, terms)
            texts[i] = protections[i].text
        rows.append(row)
    gaps = {i: segments[i + 1]["start"] - segments[i]["end"] for i in range(len(segments) - 1)}
    units = lines.build_units(texts, gaps, max_chars=params.max_chars,
                              merge=params.merge_fragments)

    generate_calls, resumed = 0, {}
    if params.nmt == "none":
        outputs = [Translation(u.text) for u in units]
        for i in texts:
            rows[i]["origin"] = "untranslated"
    elif units:
        engine = _engine(state, params)
        assert source.flores and target.flores
        pair = LanguagePair(source.code, target.code, source.flores, target.flores)
        outputs, generate_calls, resumed = resume.translate(
            engine, [u.text for u in units], pair, request, params.block_size)
    else:
        outputs = []
    translated = lines.assemble(units, [o.text for o in outputs], texts)
    left: dict[int, str] = {}  # segment id -> why the engine's output is no translation
    if params.nmt != "none":
        for unit, out in zip(units, outputs, strict=True):
            why = lines.untranslated(unit.text, out.text, source.script, target.script)
            if why:
                for sid in unit.segment_ids:
                    left.setdefault(sid, why)
    confidence: dict[int, float] = {}
    for unit, out in zip(units, outputs, strict=True):
        for sid in unit.segment_ids:
            if out.confidence is not None:
                confidence[sid] = min(confidence.get(sid, out.confidence), out.confidence)

    applied: dict[str, int] = {}
    lost: dict[str, int] = {}
    respelled: dict[str, int] = {}
    for i, text in translated.items():
        restored, hits, missing = lines.restore(text, protections[i])
        restored, rewritten = lines.rewrite_alternatives(restored, spellings)
        for alt in rewritten:
            respelled[alt] = respelled.get(alt, 0) + 1
        rows[i]["text"] = restored
        rows[i]["confidence"] = confidence.get(i)
        if i in left:  # shown as its source text, never as an empty or partial line
            rows[i].update(origin="untranslated", untranslated_reason=left[i])
            rows[i]["text"] = restored if left[i] == "unchanged" else rows[i]["source_text"]
        for term in hits:
            applied[term] = applied.get(term, 0) + 1
        for term in missing:
            lost[term] = lost.get(term, 0) + 1
    glossary_report = [{"term": t, "translation": terms[t], "applied": applied.get(t, 0),
                        "lost": lost.get(t, 0)} for t in terms if t in applied or t in lost]
    for alt, count in respelled.items():
        glossary_report.append({"term": spellings[alt], "translation": spellings[alt],
                                "applied": 0, "lost": 0, "respelled": {alt: count}})
        logger.info("glossary: %r rewritten as %r %d time(s)", alt, spellings[alt], count)
    for entry in glossary_report:
        if "respelled" in entry:
            continue
        logger.info("glossary: %s -> %s applied %d time(s)%s", entry["term"],
                    entry["translation"], entry["applied"],
                    f", lost by the model {entry['lost']} time(s)" if entry["lost"] else "")

    result = {"language": target.code, "source_language": source.code,
              "engine": params.nmt, "model": params.model, "segments": rows,
              "glossary": glossary_report, "units": len(units),
              "generate_calls": generate_calls,
              "allow_untranslated": params.allow_untranslated}
    atomic.write_json(request.output("segments.json"), result)
    resume.finish(request)
    degraded = _untranslated(params, rows, source, target, table) if left else []
    counts = {origin: sum(1 for r in rows if r["origin"] == origin)
              for origin in ("nmt", "passthrough", "empty", "untranslated")}
    logger.info("%s -> %s with %s: %d lines (%s), %d units, %d generate calls", source.code,
                target.code, params.nmt, len(rows),
                ", ".join(f"{k} {v}" for k, v in counts.items() if v), len(units),
                generate_calls)
    if params.nmt == "none":
        logger.warning("no NMT model: the lines are left untranslated for the LLM stage")
    return StageOutcome(outputs=[request.output("segments.json")],
                        info={"engine": params.nmt, "model": params.model, "lines": len(rows),
                              **{k: v for k, v in counts.items() if v},
                              "generate_calls": generate_calls, **resumed,
                              "glossary_terms_applied": sum(applied.values())},
                        degraded=degraded)


def _untranslated(params: TranslationParams, rows: list[dict], source, target, table
                  ) -> list[str]:
    """Lines the NMT engine left untranslated: with translation.engine llm or hybrid, the
    translation_llm stage translates them (and judges what is left); otherwise the stage
    fails naming the fixes, or, when allowed, records the job as degraded."""
    left = untranslated.rows_left(rows)
    reasons = [r["untranslated_reason"] for r in left]
    labels = {"empty": "{n} empty output(s)", "unchanged": "{n} output(s) repeating the source"}
    why = f"{params.nmt} gave " + " and ".join(
        label.format(n=reasons.count(k)) for k, label in labels.items() if k in reasons)
    if params.engine in LLM_ENGINES:
        logger.warning("%d line(s) untranslated (%s): left to the LLM", len(left), why)
        return []
    others = [e for e in table.engines_for(source, target) if e != params.nmt]
    fixes = [*(f"another engine: --set translation.engine={e}" for e in others),
             "--set translation.engine=hybrid (an LLM translates what the NMT could not)",
             "another model: --set translation.model=NAME (./cache-models.sh --list)"]
    if not params.allow_untranslated:
        raise untranslated.refuse(rows, why, fixes, target.name, source.name, retry=False)
    sentence = untranslated.degraded(rows, why, fixes, target.name, source.name)
    logger.warning("%s", sentence)
    return [sentence]
