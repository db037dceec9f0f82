"""The glossary stage's merge: priorities, names from metadata, what ASR and translation get."""

from __future__ import annotations

import json
from pathlib import Path

from shared import glossary
from shared.stage import StageRequest
from stages.glossary import PROJECT_GLOSSARY_DIR, GlossaryParams
from stages.glossary.merge import NAME, TERM, asr_words, merge, names_from_metadata
from stages.glossary.run import process
from stages.translation import lines

METADATA = {"cast": [
    {"name": "Shah Rukh Khan", "character": "Raj Malhotra", "order": 0},
    {"name": "Kajol", "character": "Simran Singh / Simran (as Kajol)", "order": 1},
    {"name": "Amrish Puri", "character": "Chaudhry Baldev Singh", "order": 2},
]}


def test_names_from_metadata_keep_full_names_and_their_parts():
    names = names_from_metadata(METADATA, cast_members=False)
    assert {"Raj Malhotra", "Raj", "Malhotra", "Simran Singh", "Simran"} <= set(names.terms)
    assert "Shah Rukh Khan" not in names.terms  # actors only on request
    assert names.terms["Raj"].translation == "Raj"  # a name is kept, not translated
    with_cast = names_from_metadata(METADATA, cast_members=True)
    assert "Shah Rukh Khan" in with_cast.terms


def test_merge_priority_job_over_names_over_project_and_the_report():
    job = glossary.parse("Simran\tSimran ji\nShree\tShree\tSri|Shri\n")
    names = names_from_metadata(METADATA, cast_members=False)
    project = glossary.parse("Shree\tMr\nयार\tbuddy\tyaar\n")
    entries, overridden = merge([("job", TERM, job), ("tmdb", NAME, names),
                                 ("project:p.tsv", TERM, project)])
    assert entries["Simran"].origin == "job" and entries["Simran"].term.translation == "Simran ji"
    assert entries["Shree"].origin == "job"
    assert entries["यार"].origin == "project:p.tsv"
    assert any(line.startswith("Simran: job (Simran ji) wins over tmdb") for line in overridden)
    assert any(line.startswith("Shree: job (Shree) wins over project:p.tsv") for line in overridden)
    words = asr_words(entries, max_chars=60)
    assert words.startswith("Simran") and "Raj" in words and "यार" not in words
    assert len(words) <= 60


def test_glossary_stage_writes_what_asr_and_translation_use(tmp_path: Path):
    stage_dir = tmp_path / "stages" / "03_glossary"
    stage_dir.mkdir(parents=True)
    (tmp_path / "metadata.json").write_text(json.dumps(METADATA), "utf-8")
    (tmp_path / "glossary.tsv").write_text("Shree\tShree\tSri|Shri\n", "utf-8")
    params = GlossaryParams(project_glossaries=sorted(
        p.name for p in PROJECT_GLOSSARY_DIR.glob("*.tsv")))
    request = StageRequest(job_id="j", job_dir=tmp_path, stage="glossary", key="glossary",
                           stage_dir=stage_dir, deliverables_dir=tmp_path, title="t",
                           media=tmp_path / "m.wav", params=params.model_dump(mode="json"),
                           inputs={"metadata": tmp_path / "metadata.json",
                                   "job_glossary": tmp_path / "glossary.tsv"})
    process(request, None)
    data = json.loads((stage_dir / "glossary.json").read_text("utf-8"))
    assert data["sources"]["job"] == 1 and data["sources"]["tmdb"] >= 5
    assert data["sources"]["project:hinglish.tsv"] >= 20  # the starter Hinglish glossary
    assert data["protected"]["Shree"] == "Shree" and data["protected"]["Raj"] == "Raj"
    assert "यार" not in data["protected"]  # starter lines guide, they are not forced
    assert data["alternatives"] == {"Sri": "Shree", "Shri": "Shree"}
    assert "Shree" in data["asr"]["hotwords"] and "Raj Malhotra" in data["asr"]["hotwords"]
    assert data["asr"]["initial_prompt"].endswith(".")


def test_translations_are_respelled_to_the_preferred_form():
    text, replaced = lines.rewrite_alternatives("Sri said Shri Ram, Sridevi",
                                                {"Sri": "Shree", "Shri": "Shree"})
    assert text == "Shree said Shree Ram, Sridevi" and sorted(replaced) == ["Shri", "Sri"]


def test_a_header_after_comment_lines_is_no_term():
    """The starter glossary starts with comments, then its header: "term" is no term."""
    parsed = glossary.parse("# comment\n\nterm\ttranslation\nयार\tbuddy\n")
    assert list(parsed.terms) == ["यार"]
    starter = glossary.load(PROJECT_GLOSSARY_DIR / "hinglish.tsv")
    assert "term" not in starter.terms and len(starter) > 0
