"""Which writing system a text is in: the share of its letters in a script (ISO 15924), and
its dominant script. Pure Python (unicodedata), so every venv can use it."""

from __future__ import annotations

import unicodedata
from collections import Counter

# Unicode script names (first word of a letter's name) for the ISO 15924 codes in
# config/languages.toml; Japanese writes kanji, hiragana and katakana, Korean hangul and hanja.
SCRIPT_WORDS: dict[str, tuple[str, ...]] = {
    "Latn": ("LATIN",), "Deva": ("DEVANAGARI",), "Beng": ("BENGALI",),
    "Gujr": ("GUJARATI",), "Guru": ("GURMUKHI",), "Knda": ("KANNADA",),
    "Mlym": ("MALAYALAM",), "Orya": ("ORIYA",), "Taml": ("TAMIL",), "Telu": ("TELUGU",),
    "Arab": ("ARABIC",), "Olck": ("OL",), "Cyrl": ("CYRILLIC",), "Grek": ("GREEK",),
    "Hebr": ("HEBREW",), "Thai": ("THAI",), "Hang": ("HANGUL", "CJK"),
    "Jpan": ("CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"), "Hans": ("CJK",),
    "Hant": ("CJK",),
    "Sinh": ("SINHALA",), "Khmr": ("KHMER",), "Geor": ("GEORGIAN",), "Armn": ("ARMENIAN",),
    "Ethi": ("ETHIOPIC",), "Laoo": ("LAO",), "Mymr": ("MYANMAR",), "Tibt": ("TIBETAN",),
}
_NAMES = {"Jpan": "Japanese", "Hans": "Chinese (Han)", "Hant": "Chinese (Han)",
          "Hang": "Hangul", "Olck": "Ol Chiki"}


def script_share(text: str, script: str | None, *, marks: bool = False) -> float:
    """The share of ``text``'s letters written in ``script`` (ISO 15924), 0..1. ``marks``:
    count combining marks (an Indic vowel sign, of its script's name) as letters too, so a
    Devanagari word weighs what its romanisation does against a Latin name beside it."""
    words = SCRIPT_WORDS.get(script or "")
    letters = [ch for ch in (unicodedata.normalize("NFC", text) if marks else text)
               if ch.isalpha() or (marks and unicodedata.category(ch).startswith("M"))]
    if not words or not letters:
        return 0.0
    hits = sum(1 for ch in letters if unicodedata.name(ch, "").split(" ")[0] in words)
    return hits / len(letters)


def script_name(script: str) -> str:
    """'Deva' -> 'Devanagari' (the Unicode name), for messages."""
    return _NAMES.get(script) or SCRIPT_WORDS.get(script, (script,))[0].title()


def dominant_script(text: str) -> str | None:
    """The Unicode name of the script most of ``text``'s letters are in ('Arabic')."""
    words = Counter(unicodedata.name(ch, "?").split(" ")[0] for ch in text if ch.isalpha())
    return words.most_common(1)[0][0].title() if words else None
