"""The report's translation section: per target language the engine, the model, each line
beside its source with the engine that made it (NMT / LLM / pass-through / untranslated) and
the glossary terms its source holds (kept in the translation, or lost), LLM usage and cost,
and the glossary terms applied."""

from __future__ import annotations

from shared.report.sources import JobFiles

ORIGINS = {"nmt": "NMT", "llm": "LLM", "passthrough": "pass-through", "untranslated":
           "untranslated", "empty": "empty"}


def translations(files: JobFiles) -> list[dict]:
    found = []
    for key in files.keys("translation"):
        lang = key.split(":")[-1]
        llm_key = f"translation_llm:{lang}"
        final = files.json(llm_key, "segments.json") if llm_key in files.dirs else None
        draft = files.json(key, "segments.json") or {}
        chosen = final or draft
        if not chosen:
            continue
        lines, origins = [], {}
        terms = [(g.get("term", ""), g.get("translation", "")) for g in draft.get("glossary") or []
                 if g.get("term") and "respelled" not in g]
        for segment in chosen.get("segments") or []:
            origin = ORIGINS.get(segment.get("origin", ""), segment.get("origin") or "?")
            origins[origin] = origins.get(origin, 0) + 1
            lines.append({"start": segment.get("start", 0.0), "end": segment.get("end", 0.0),
                          "source": segment.get("source_text", ""),
                          "text": segment.get("text", ""), "origin": origin,
                          "glossary": glossary_hits(segment, terms)})
        found.append({"lang": lang, "source_lang": draft.get("source_language")
                      or files.job.source_lang, "engine": draft.get("engine"),
                      "model": draft.get("model"),
                      "origins": origins, "lines": lines,
                      "usage": llm_usage(files.json(llm_key, "usage.json"))})
    return found


def glossary_hits(segment: dict, terms: list[tuple[str, str]]) -> list[dict]:
    """The glossary terms in a line's source text, each with whether its translation is in
    the line's text (kept) or not (lost by the model, or untranslated)."""
    source = (segment.get("source_text") or "").casefold()
    text = (segment.get("text") or "").casefold()
    return [{"term": term, "translation": target, "kept": target.casefold() in text}
            for term, target in terms if term.casefold() in source]


def llm_usage(usage: dict | None) -> dict | None:
    if not usage:
        return None
    cost = usage.get("estimated_cost_usd")
    return {"requests": usage.get("requests", 0), "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "cost": f"${cost:.4f}" if isinstance(cost, (int, float)) else "unknown",
            "model": usage.get("model"), "cache_hits": usage.get("cache_hits", 0)}


def glossary_terms(files: JobFiles) -> list[dict]:
    """The glossary terms translation applied (per target: term, translation, times), else
    the terms the job's glossary holds (none applied yet)."""
    applied: dict[str, dict] = {}
    for key in files.keys("translation"):
        for entry in (files.json(key, "segments.json") or {}).get("glossary") or []:
            row = applied.setdefault(entry.get("term", ""), {
                "source": entry.get("term", ""), "targets": [], "applied": 0, "lost": 0})
            row["targets"].append(f"{key.split(':')[-1]}: {entry.get('translation', '')}")
            row["applied"] += int(entry.get("applied") or 0)
            row["lost"] += int(entry.get("lost") or 0)
    if applied:
        return [{**r, "targets": ", ".join(r["targets"])} for r in applied.values()]
    terms = (files.json("glossary", "glossary.json") or {}).get("terms") or []
    return [{"source": t.get("term", ""), "targets": ", ".join(t.get("translations") or []),
             "applied": "not translated", "lost": ""} for t in terms[:500]]
