"""Text reduced to its words, for comparing transcripts: NFC, lower case, every character that
is not a letter, a combining mark, a digit or an apostrophe turned into a space, runs of spaces
collapsed. Combining marks count as part of the word, so Devanagari and the other Indic scripts
keep their words whole (``r"[^\\w\\s']"`` would cut "फिल्म" at each vowel sign: Python's ``\\w``
leaves out marks). Standard library only, so every venv can use it."""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_words"]

_KEPT = frozenset("LMN")  # Unicode general categories: letters, marks, numbers


def normalize_words(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    return " ".join("".join(ch if unicodedata.category(ch)[0] in _KEPT or ch == "'" else " "
                            for ch in text).split())
