"""Language codes as users type them: every accepted form gives the language table's code."""

from __future__ import annotations

import pytest

from shared.errors import InputError
from shared.language_input import parse_language
from shared.languages import load_languages


@pytest.mark.parametrize(("typed", "code"), [
    ("de", "de"),                   # ISO 639-1
    ("ger", "de"), ("fre", "fr"),   # ISO 639-2/B
    ("deu", "de"), ("fra", "fr"),   # ISO 639-2/T
    ("hin", "hi"), ("kok", "gom"),  # ISO 639-3 (Konkani's line is keyed gom)
    ("cmn", "zh"),                  # an individual language of a macrolanguage
    ("nb", "no"),                   # Bokmål: the line whose FLORES code is nob_Latn
    ("jv", "jw"),                   # Whisper's own code for Javanese stays the key
    ("hi-IN", "hi"), ("pt-BR", "pt"), ("en_US", "en"), ("EN", "en"),  # BCP-47, any case
    ("German", "de"), ("hindi", "hi"), ("Deutsch", "de"),  # English and native names
    ("Brazilian Portuguese", "pt"),
    ("hin_Deva", "hi"),             # FLORES-200
])
def test_every_form_gives_the_table_code(typed, code):
    assert parse_language(typed, "target") == code
    assert parse_language(typed, "source") == code


def test_a_script_subtag_picks_the_flores_variant_of_a_target():
    assert parse_language("zh-Hans", "target") == "zh"  # the table's own script
    assert parse_language("zh-Hant", "target") == "zho_Hant"
    traditional = load_languages().get("zho_Hant")
    assert (traditional.flores, traditional.iso639_2) == ("zho_Hant", "chi")  # MKV tag chi


def test_a_source_keeps_only_the_language_whisper_transcribes():
    assert parse_language("zh-Hant", "source") == "zh"


def test_a_language_only_nllb_knows_resolves_to_its_flores_code():
    assert parse_language("Bhojpuri", "target") == "bho_Deva"
    assert parse_language("ace-Latn", "target") == "ace_Latn"
    with pytest.raises(InputError, match="written in several scripts") as e:
        parse_language("ace", "target")
    assert "-t ace_Arab, -t ace_Latn" in e.value.fix


def test_a_script_the_table_lacks_is_refused_naming_the_usual_one():
    with pytest.raises(InputError, match="Serbian in Latin script is not in the language") as e:
        parse_language("sr-Latn", "target")
    assert "-t sr (Serbian in Cyrillic script)" in e.value.fix


def test_unknown_input_lists_close_matches():
    with pytest.raises(InputError, match=r"unknown language code 'Germn'; close matches: "
                       r"German \(de\)") as e:
        parse_language("Germn", "source")
    assert "config/languages.toml" in e.value.fix and "pt-BR" in e.value.fix
    with pytest.raises(InputError, match=r"unknown language code 'xx'") as e:
        parse_language("xx", "target")
    assert "close matches" not in str(e.value)  # nothing is close to xx


def test_a_real_language_the_table_lacks_says_so():
    with pytest.raises(InputError, match="Klingon \\(tlh\\) is not a language this pipeline "
                       "knows"):
        parse_language("tlh", "target")
