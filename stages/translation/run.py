"""The translation stage's work, in the NMT engine's venv: prepare the lines (stages.translation
.lines), translate them with the engine loaded once per batch, write segments.json."""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from shared import transcript
from shared.languages import load_languages
from shared.stage import StageOutcome, StageRequest
from shared.text_script import script_name
from shared.transcript import Line, Segment
from stages.translation import LLM_ENGINES, TranslationParams, lines, resume, untranslated
from stages.translation.engine import LanguagePair
from stages.translation.engine import Translation as Output

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


@dataclass
class Prepared:
    """The lines before the engine: every output line, and for those the engine translates
    the text with glossary placeholders (``texts``) and what the placeholders hold."""

    rows: list[Line] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    protections: dict[int, lines.Protection] = field(default_factory=dict)


def _prepare(segments: list[Segment], params: TranslationParams, source, target,
             terms: dict[str, str]) -> Prepared:
    """One line per segment: empty, passed through (already in the target language) or to
    translate (origin "nmt", glossary terms replaced by placeholders)."""
    out = Prepared()
    for i, seg in enumerate(segments):
        text = lines.clean(seg.text)
        row = Line(id=i, start=seg.start, end=seg.end, text=text, source_text=text,
                   confidence=None, lyrics=bool(seg.lyrics), origin="nmt")
        if seg.language:
            row.source_language = seg.language
        if not text:
            row.origin = "empty"
        elif params.passthrough and lines.already_in_target(
                text, seg.language, source.code, target.code, source.script, target.script):
            row.origin = "passthrough"
        else:
            out.protections[i] = lines.protect(text, terms)
            out.texts[i] = out.protections[i].text
        out.rows.append(row)
    return out


def _translate(request: StageRequest, state: dict, params: TranslationParams,
               units: list[lines.Unit], source, target) -> tuple[list[Output], int, dict]:
    """The engine's output per unit, the generate calls of the whole run (none for nmt
    "none") and the checkpoint's counts (blocks, where it resumed: stages.translation.resume)."""
    if params.nmt == "none":
        return [Output(u.text) for u in units], 0, {}
    if not units:
        return [], 0, {}
    engine = _engine(state, params)
    assert source.flores and target.flores
    pair = LanguagePair(source.code, target.code, source.flores, target.flores)
    return resume.translate(engine, [u.text for u in units], pair, request, params.block_size)


def _per_line(params: TranslationParams, units: list[lines.Unit], outputs: list[Output],
              source, target) -> tuple[dict[int, str], dict[int, float]]:
    """Line id -> why the engine's output is no translation; line id -> the lowest
    confidence of the units it is in."""
    left: dict[int, str] = {}
    confidence: dict[int, float] = {}
    for unit, out in zip(units, outputs, strict=True):
        why = None if params.nmt == "none" else \
            lines.untranslated(unit.text, out.text, source.script, target.script)
        for sid in unit.segment_ids:
            if why:
                left.setdefault(sid, why)
            if out.confidence is not None:
                confidence[sid] = min(confidence.get(sid, out.confidence), out.confidence)
    return left, confidence


@dataclass
class GlossaryCount:
    applied: Counter = field(default_factory=Counter)
    lost: Counter = field(default_factory=Counter)
    respelled: Counter = field(default_factory=Counter)


def _fill(prepared: Prepared, translated: dict[int, str], left: dict[int, str],
          confidence: dict[int, float], spellings: dict[str, str]) -> GlossaryCount:
    """Put the translations into the lines (terms restored, spellings rewritten); a line
    left untranslated shows its source text, never an empty, partial or wrong-language
    line."""
    count = GlossaryCount()
    for i, text in translated.items():
        restored, hits, missing = lines.restore(text, prepared.protections[i])
        restored, rewritten = lines.rewrite_alternatives(restored, spellings)
        count.respelled.update(rewritten)
        row = prepared.rows[i]
        row.text = restored
        row.confidence = confidence.get(i)
        if i in left:
            row.origin, row.untranslated_reason = "untranslated", left[i]
            row.text = restored if left[i] == "unchanged" else row.source_text
        count.applied.update(hits)
        count.lost.update(missing)
    return count


def _glossary_report(terms: dict[str, str], spellings: dict[str, str],
                     count: GlossaryCount) -> list[dict]:
    report = [{"term": t, "translation": terms[t], "applied": count.applied.get(t, 0),
               "lost": count.lost.get(t, 0)}
              for t in terms if t in count.applied or t in count.lost]
    for entry in report:
        logger.info("glossary: %s -> %s applied %d time(s)%s", entry["term"],
                    entry["translation"], entry["applied"],
                    f", lost by the model {entry['lost']} time(s)" if entry["lost"] else "")
    for alt, n in count.respelled.items():
        report.append({"term": spellings[alt], "translation": spellings[alt],
                       "applied": 0, "lost": 0, "respelled": {alt: n}})
        logger.info("glossary: %r rewritten as %r %d time(s)", alt, spellings[alt], n)
    return report


def process(request: StageRequest, state: dict) -> StageOutcome:
    params = request.params_as(TranslationParams)
    table = load_languages()
    assert params.source_lang and request.lang
    source, target = table.get(params.source_lang), table.get(request.lang)
    segments = transcript.load_transcript(Path(request.inputs["segments"])).segments
    terms, spellings = _glossary(request, params)
    prepared = _prepare(segments, params, source, target, terms)
    gaps = {i: segments[i + 1].start - segments[i].end for i in range(len(segments) - 1)}
    units = lines.build_units(prepared.texts, gaps, max_chars=params.max_chars,
                              merge=params.merge_fragments)
    outputs, generate_calls, resumed = _translate(request, state, params, units, source,
                                                  target)
    if params.nmt == "none":
        for i in prepared.texts:
            prepared.rows[i].origin = "untranslated"
    translated = lines.assemble(units, [o.text for o in outputs], prepared.texts)
    left, confidence = _per_line(params, units, outputs, source, target)
    count = _fill(prepared, translated, left, confidence, spellings)
    rows = prepared.rows
    transcript.save(request.output("segments.json"), transcript.Translation(
        language=target.code, source_language=source.code, engine=params.nmt,
        model=params.model, segments=rows, glossary=_glossary_report(terms, spellings, count),
        units=len(units), generate_calls=generate_calls,
        allow_untranslated=params.allow_untranslated))
    resume.finish(request)
    degraded = _untranslated(params, rows, source, target, table) if left else []
    counts = {origin: sum(1 for r in rows if r.origin == origin)
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
                              "glossary_terms_applied": sum(count.applied.values())},
                        degraded=degraded)


def _untranslated(params: TranslationParams, rows: list[Line], source, target, table
                  ) -> list[str]:
    """Lines the NMT engine left untranslated: with translation.engine llm or hybrid, the
    translation_llm stage translates them (and judges what is left); otherwise the stage
    fails naming the fixes, or, when allowed, records the job as degraded."""
    left = untranslated.rows_left(rows)
    reasons = [r.untranslated_reason for r in left]
    script = script_name(target.script) if target.script else "target's"
    labels = {"empty": "{n} empty output(s)", "unchanged": "{n} output(s) repeating the source",
              lines.WRONG_SCRIPT: f"{{n}} output(s) not in the {script} script"}
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
