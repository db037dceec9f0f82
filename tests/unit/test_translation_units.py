"""The translation stage's pure parts: language table, routing, line preparation, glossary."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared import glossary
from shared.errors import InputError
from shared.languages import load_languages
from stages.translation import SPEC, TranslationParams, lines, route


def test_language_table_maps_iso_and_flores_codes_for_the_scheduled_languages():
    table = load_languages()
    scheduled = [lang for lang in table.languages.values() if lang.indic]
    assert len(scheduled) == 22
    assert all(lang.flores and lang.script for lang in scheduled)
    assert table.get("hin").code == "hi" and table.get("hin_Deva").code == "hi"
    assert table.get("tam_Taml").iso639_2 == "tam"
    # an NLLB language without a line of its own stands for itself, with a display name
    ace = table.get("ace_Latn")
    assert ace.name.startswith("Achinese") and ace.flores == "ace_Latn"
    assert len(table.nllb) == 202
    with pytest.raises(InputError, match="unknown language code 'xx'"):
        table.get("xx")


@pytest.mark.parametrize(("source", "target", "engine"), [
    ("hi", "en", "indictrans2"), ("en", "ta", "indictrans2"), ("te", "gu", "indictrans2"),
    ("brx", "en", "indictrans2"), ("hi", "fr", "nllb"), ("es", "en", "nllb"),
])
def test_default_route(source, target, engine):
    assert route(source, target) == engine


def test_route_refuses_an_engine_that_cannot_translate_the_pair_and_names_those_that_can():
    with pytest.raises(InputError) as error:
        route("hi", "fr", "indictrans2")
    assert "indictrans2 cannot translate Hindi (hi) -> French (fr)" in str(error.value)
    assert "nllb or llm" in error.value.fix
    with pytest.raises(InputError) as error:
        route("brx", "fr")  # Bodo: IndicTrans2 only; French: not IndicTrans2
    assert "translation.engine=llm" in error.value.fix
    assert route("brx", "fr", "llm") == "none"  # the LLM translates alone
    assert route("hi", "en", "hybrid") == "indictrans2"


def test_environment_follows_the_route_before_and_after_resolve():
    def ctx(source, target):
        return SimpleNamespace(job=SimpleNamespace(source_lang=source), lang=target)

    assert SPEC.environment(TranslationParams(), ctx("hi", "en")) == "indictrans2"
    assert SPEC.environment(TranslationParams(), ctx("es", "en")) == "nllb"
    assert SPEC.environment(TranslationParams(engine="nllb"), ctx("hi", "en")) == "nllb"
    assert SPEC.environment(TranslationParams(engine="llm"), ctx("brx", "fr")) == "common"
    resolved = TranslationParams(engine="llm", nmt="none")  # no draft model cached
    assert SPEC.environment(resolved, ctx("hi", "en")) == "common"


def test_clean_removes_control_characters_and_keeps_emoji_and_scripts():
    assert lines.clean("नमस्ते\x00 दुनिया\n🎵  ok\t") == "नमस्ते दुनिया 🎵 ok"


def test_hinglish_in_latin_script_passes_through_for_english_targets():
    args = dict(source_lang="hi", target_lang="en", source_script="Deva", target_script="Latn")
    assert lines.already_in_target("Yaar, kya scene hai?", None, **args)
    assert not lines.already_in_target("यार, क्या सीन है?", None, **args)
    assert lines.already_in_target("anything", "en", **args)  # ASR said it is English
    # a Latin-script source (Spanish) is never passed through on script alone
    assert not lines.already_in_target("hola amigo", None, "es", "en", "Latn", "Latn")


def test_a_2000_character_line_is_split_into_sentences_not_truncated():
    sentence = "यह एक बहुत लंबा वाक्य है जो बार बार दोहराया जाता है।"
    text = " ".join([sentence] * 40)
    assert len(text) > 2000
    pieces = lines.split_long(text, 400)
    assert all(len(p) <= 400 for p in pieces)
    assert " ".join(pieces) == text
    assert all(p.endswith("।") for p in pieces)
    unbroken = "x" * 1000  # no spaces at all: cut, still nothing lost
    assert "".join(lines.split_long(unbroken, 400)) == unbroken


def test_sentence_fragments_are_merged_and_split_back_one_line_per_segment():
    texts = {0: "When I was young", 1: "we lived in Delhi.", 2: "It was hot."}
    gaps = {0: 0.2, 1: 0.3}
    units = lines.build_units(texts, gaps, max_chars=400, merge=True)
    assert [u.segment_ids for u in units] == [[0, 1], [2]]
    out = lines.assemble(units, ["Jab main chhota tha, hum Dilli mein rehte the.",
                                 "Garmi thi."], texts)
    assert set(out) == {0, 1, 2}
    assert out[0] and out[1] and out[2] == "Garmi thi."
    assert f"{out[0]} {out[1]}" == "Jab main chhota tha, hum Dilli mein rehte the."
    assert out[0].endswith("tha,")  # the cut prefers punctuation near the proportional point
    # a long pause keeps fragments apart
    apart = lines.build_units(texts, {0: 2.0, 1: 0.3}, max_chars=400, merge=True)
    assert [u.segment_ids for u in apart] == [[0], [1], [2]]


def test_long_segment_pieces_are_joined_back_in_order():
    texts = {0: "One. Two. Three.", 1: "Four."}
    units = lines.build_units(texts, {}, max_chars=10, merge=True)
    assert [(u.text, u.piece) for u in units] == [("One. Two.", 0), ("Three.", 1),
                                                  ("Four.", 0)]
    out = lines.assemble(units, ["Ek. Do.", "Teen.", "Char."], texts)
    assert out == {0: "Ek. Do. Teen.", 1: "Char."}


def test_glossary_terms_are_protected_and_restored_and_losses_reported():
    terms = {"Shree": "Shree", "Shah Rukh Khan": "Shah Rukh Khan", "बेटा": "beta"}
    protected = lines.protect("Shree ने Shah Rukh Khan से कहा बेटा, Shree!", terms)
    assert "Shree" not in protected.text and "Shah Rukh" not in protected.text
    assert len(protected.terms) == 4
    # a model output that kept three of the four placeholders (in another order)
    numbers = sorted(protected.terms)
    output = (f"[{numbers[0]}] told [ {numbers[1]} ], {lines.PLACEHOLDER.format(n=numbers[2])}"
              " come here")
    text, applied, lost = lines.restore(output, protected)
    assert "[" not in text
    assert len(applied) == 3 and lost
    whole = " ".join(lines.PLACEHOLDER.format(n=n) for n in numbers)
    _, applied, lost = lines.restore(whole, protected)
    assert sorted(applied) == sorted(t for t, _ in protected.terms.values()) and lost == []


def test_glossary_tsv_parsing_reports_bad_lines_and_duplicates():
    parsed = glossary.parse("term\ttranslation\talternatives\tcontext\tsource\n"
                            "# comment\n"
                            "Shree\tShree\tSri|Shri\tthe hero\ttmdb\n"
                            "yaar\tbuddy|mate\n"
                            "yaar\tfriend\n")
    assert parsed.terms["Shree"].alternatives == ("Sri", "Shri")
    assert parsed.terms["yaar"].translation == "friend"
    assert parsed.duplicates == ["yaar (line 5 replaces line 4)"]
    with pytest.raises(InputError, match="line 2: no translation"):
        glossary.parse("Shree\tShree\nbhai\n", origin="g.tsv")
    with pytest.raises(InputError, match="line 1: 6 columns"):
        glossary.parse("a\tb\tc\td\te\tf\n")


def test_an_output_without_spaces_is_split_between_characters():
    parts = lines.split_proportionally("我们住在德里。很热。", [10, 10])
    assert parts == ["我们住在德里。", "很热。"]
    assert lines.split_proportionally("x", [5, 5]) == ["x", ""]  # nothing to split: kept whole


def test_an_empty_transcript_gives_an_empty_translation_without_loading_a_model(tmp_path):
    import json

    from shared import transcript
    from shared.stage import StageRequest
    from shared.transcript import Transcript
    from stages.translation.run import process

    stage_dir = tmp_path / "stages" / "07_translation_en"
    stage_dir.mkdir(parents=True)
    transcript.save(tmp_path / "aligned.json", Transcript(language="hi", segments=[]))
    params = TranslationParams(nmt="indictrans2", model="ai4bharat/indictrans2-indic-en-1B",
                               device="cpu", batch_size=8, source_lang="hi")
    request = StageRequest(job_id="j", job_dir=tmp_path, stage="translation",
                           key="translation:en", lang="en", stage_dir=stage_dir,
                           deliverables_dir=tmp_path, title="t", media=tmp_path / "m.wav",
                           params=params.model_dump(mode="json"),
                           inputs={"segments": tmp_path / "aligned.json"})
    state: dict = {}
    outcome = process(request, state)
    data = json.loads((stage_dir / "segments.json").read_text("utf-8"))
    assert data["segments"] == [] and data["generate_calls"] == 0
    assert outcome.info["lines"] == 0 and state == {}  # no engine was loaded


@pytest.mark.parametrize(("source", "output", "scripts", "why"), [
    ("राज, तुम कहाँ हो?", "", ("Deva", "Latn"), "empty"),
    ("राज, तुम कहाँ हो?", " … ♪ ", ("Deva", "Latn"), "empty"),
    ("राज, तुम कहाँ हो?", "राज, तुम कहाँ हो?", ("Deva", "Latn"), "unchanged"),
    ("चलो", "चलो!", ("Deva", "Latn"), "unchanged"),  # another script: one word is enough
    ("Where are you going?", "where are you going", ("Latn", "Latn"), "unchanged"),
    ("राज, तुम कहाँ हो?", "Raj, where are you?", ("Deva", "Latn"), None),
    ("Rahul Sharma!", "Rahul Sharma!", ("Latn", "Latn"), None),  # a name may stay
    ("No.", "No.", ("Latn", "Latn"), None),
    ("OK", "OK", ("Deva", "Latn"), None),  # not in the source's script
    ("2024!", "", ("Latn", "Deva"), None),  # no letters: nothing to translate
    ("[1] [2]", "[1] [2]", ("Deva", "Latn"), None),  # glossary placeholders only
    # the wrong language: an English paraphrase for a Hindi target, Bengali for English
    ("Where are you going?", "Where are you going, friend?", ("Latn", "Deva"),
     "wrong script"),
    ("Where are you going?", "तुम कहाँ जा रहे हो?", ("Latn", "Deva"), None),
    ("Raj, go to Mumbai at 5", "Raj, तुम 5 बजे Mumbai जाओगे", ("Latn", "Deva"), None),
    ("राज, तुम कहाँ हो?", "রাজ, তুমি কোথায়?", ("Deva", "Latn"), "wrong script"),
    ("Where are you?", "OK [1], 2024", ("Latn", "Deva"), "wrong script"),
    # what a script cannot tell: English for French; a script the table does not know
    ("Where are you going?", "Where do you go?", ("Latn", "Latn"), None),
    ("Where are you going?", "Where do you go?", ("Latn", None), None),
    ("Where are you going?", "Where do you go?", ("Latn", "Zzzz"), None),
])
def test_an_output_that_is_no_translation_is_told_apart(source, output, scripts, why):
    assert lines.untranslated(source, output, *scripts) == why
