"""The glossary stage's work: read the sources, merge them, write glossary.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from shared import atomic
from shared import glossary as tsv
from shared.stage import StageOutcome, StageRequest
from stages.glossary import PROJECT_GLOSSARY_DIR, GlossaryParams
from stages.glossary.merge import NAME, TERM, alternatives, asr_words, merge, names_from_metadata

logger = logging.getLogger(__name__)


def process(request: StageRequest, state) -> StageOutcome:
    params = request.params_as(GlossaryParams)
    layers: list[tuple[str, str, tsv.Glossary]] = []
    if "job_glossary" in request.inputs:
        layers.append(("job", TERM, tsv.load(Path(request.inputs["job_glossary"]))))
    if params.names_from_metadata and "metadata" in request.inputs:
        metadata = json.loads(Path(request.inputs["metadata"]).read_text("utf-8"))
        names = names_from_metadata(metadata, cast_members=params.cast_members)
        if names.terms:
            layers.append(("tmdb", NAME, names))
    for name in params.project_glossaries or []:
        layers.append((f"project:{name}", TERM, tsv.load(PROJECT_GLOSSARY_DIR / name)))
    entries, overridden = merge(layers)
    for line in overridden:
        logger.warning("glossary: %s", line)
    words = asr_words(entries, params.prompt_max_chars)
    data = {
        "terms": [e.as_dict() for e in entries.values()],
        "asr": {"hotwords": words, "initial_prompt": f"{words}." if words else ""},
        # forced into every translation: the job's own terms and the film's names
        "protected": {e.term.term: e.term.translation for e in entries.values()
                      if e.origin == "job" or e.kind == NAME},
        "alternatives": alternatives({k: e for k, e in entries.items()
                                      if e.origin == "job" or e.kind == NAME}),
        "overridden": overridden,
        "sources": {origin: sum(1 for e in entries.values() if e.origin == origin)
                    for origin, _, _ in layers},
    }
    atomic.write_json(request.output("glossary.json"), data)
    logger.info("glossary: %d terms (%s); %d names; ASR hotwords: %s", len(entries),
                ", ".join(f"{k} {v}" for k, v in data["sources"].items()),
                sum(1 for e in entries.values() if e.kind == NAME), words or "none")
    return StageOutcome(outputs=[request.output("glossary.json")],
                        info={"terms": len(entries), "sources": data["sources"],
                              "overridden": len(overridden)})
