"""shared/words.py: the one text normaliser for WER/CER in tests and benches (and for the
hallucination filter) keeps Devanagari words whole, vowel signs and virama included."""

from __future__ import annotations

import unicodedata

import pytest

from shared.words import normalize_words
from tests.helpers import cer, wer

HINDI = "नमस्ते दोस्तों। आज हम एक फिल्म देखने जा रहे हैं। यह फिल्म बहुत अच्छी है।"
HINDI_WORDS = ["नमस्ते", "दोस्तों", "आज", "हम", "एक", "फिल्म", "देखने", "जा", "रहे", "हैं",
               "यह", "फिल्म", "बहुत", "अच्छी", "है"]


def test_devanagari_words_stay_whole_and_the_danda_goes():
    assert normalize_words(HINDI).split() == HINDI_WORDS


def test_latin_text_loses_case_and_punctuation_keeps_apostrophes():
    assert normalize_words("And so, my fellow Americans: ask NOT — don't!") == \
        "and so my fellow americans ask not don't"


@pytest.mark.parametrize("text", ["ગુજરાતી ફિલ્મ", "தமிழ் திரைப்படம்", "বাংলা ছবি"])
def test_other_indic_scripts_stay_whole(text):
    assert normalize_words(text) == text


def test_decomposed_and_composed_text_compare_equal():
    composed = "क़िला"  # QA as one code point (U+0958 decomposes to KA + NUKTA)
    assert normalize_words(unicodedata.normalize("NFD", composed)) == \
        normalize_words(composed)


def test_hindi_wer_counts_words_not_syllables():
    one_word_wrong = HINDI.replace("अच्छी", "बुरी")
    assert wer(HINDI, one_word_wrong) == pytest.approx(1 / len(HINDI_WORDS))
    assert wer(HINDI, HINDI.replace("।", "")) == 0.0  # punctuation is not a word
    dropped = HINDI.replace("बहुत ", "")
    assert wer(HINDI, dropped) == pytest.approx(1 / len(HINDI_WORDS))


def test_cer_ignores_punctuation_and_counts_changed_characters():
    assert cer(HINDI, HINDI.replace("।", "")) == 0.0
    reference = normalize_words(HINDI)
    assert cer(HINDI, HINDI.replace("हम", "तुम")) == pytest.approx(2 / len(reference))  # ह->त, +ु
