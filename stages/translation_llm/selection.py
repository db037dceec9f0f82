"""Which draft lines go to the LLM. Mode "llm": every line that needs translating. Mode
"hybrid": only the lines the NMT engine probably got wrong, each with its reasons:

    lyrics          a song line (the NMT stage marks them)
    low_confidence  mean token log-probability below ``min_confidence``
    untranslated    the NMT stage could not translate it
    copied          the output is (nearly) the source: nothing was translated
    wrong_script    the output is mostly not in the target language's script
    repetition      a word or phrase repeated 3+ times in a row that the source does not
                    repeat (a decoding loop)
    length          the output is far longer or shorter than the source
    pattern         the source matches one of ``patterns`` (idioms, proverbs, terms the user
                    wants the LLM to handle)

Lines that are "passthrough" (already in the target language) or "empty" are never sent.
Pure Python (stdlib): imports in every venv.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.transcript import Line

NEVER_SENT = ("passthrough", "empty")
# Unicode script name (first word of a letter's name) -> ISO 15924, for the scripts of
# config/languages.toml
SCRIPTS = {"LATIN": "Latn", "DEVANAGARI": "Deva", "BENGALI": "Beng", "TAMIL": "Taml",
           "TELUGU": "Telu", "GUJARATI": "Gujr", "KANNADA": "Knda", "MALAYALAM": "Mlym",
           "GURMUKHI": "Guru", "ARABIC": "Arab", "ORIYA": "Orya", "OL": "Olck",
           "MEETEI": "Mtei", "CJK": "Hani", "HIRAGANA": "Jpan", "KATAKANA": "Jpan",
           "HANGUL": "Hang", "CYRILLIC": "Cyrl", "GREEK": "Grek", "HEBREW": "Hebr",
           "THAI": "Thai", "SINHALA": "Sinh", "TIBETAN": "Tibt", "ETHIOPIC": "Ethi"}


@dataclass(frozen=True)
class Rules:
    min_confidence: float = -1.0
    max_length_ratio: float = 3.0
    target_script: str | None = None  # ISO 15924 ("Latn"); None: no script check
    patterns: tuple[str, ...] = ()


def sendable(segment: Line) -> bool:
    source = (segment.source_text or segment.text).strip()
    return bool(source) and segment.origin not in NEVER_SENT


def reasons(segment: Line, rules: Rules) -> list[str]:
    """Why a draft line should be refined (empty: the NMT line stands)."""
    source = segment.source_text.strip()
    text = segment.text.strip()
    found = []
    if segment.lyrics:
        found.append("lyrics")
    if segment.origin == "untranslated" or not text:
        found.append("untranslated")
    confidence = segment.confidence
    if confidence is not None and confidence < rules.min_confidence:
        found.append("low_confidence")
    if text and copied(source, text):
        found.append("copied")
    if text and rules.target_script and wrong_script(text, rules.target_script):
        found.append("wrong_script")
    if text and repeats(text) and not repeats(source):
        found.append("repetition")
    if text and length_off(source, text, rules.max_length_ratio):
        found.append("length")
    if any(re.search(p, source, flags=re.I) for p in rules.patterns):
        found.append("pattern")
    return found


def select(segments: list[Line], mode: str, rules: Rules) -> dict[int, list[str]]:
    """id -> reasons for every line to send, in order."""
    chosen: dict[int, list[str]] = {}
    for segment in segments:
        if not sendable(segment):
            continue
        if mode == "llm":
            chosen[segment.id] = ["llm"]
        else:
            why = reasons(segment, rules)
            if why:
                chosen[segment.id] = why
    return chosen


def _letters(text: str) -> str:
    """Letters, digits and combining marks (Indic vowel signs), case-folded."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text).casefold()
                   if ch.isalnum() or unicodedata.category(ch).startswith("M"))


def copied(source: str, text: str) -> bool:
    a, b = _letters(source), _letters(text)
    if not a or not b or a.isdigit():
        return False
    return a == b or (len(a) >= 8 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.9)


def script_of(ch: str) -> str | None:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    return SCRIPTS.get(name.split(" ", 1)[0])


def wrong_script(text: str, target_script: str) -> bool:
    """Most of the letters are in a known script other than the target's."""
    scripts = [script_of(ch) for ch in text if ch.isalpha()]
    known = [s for s in scripts if s is not None]
    if len(known) < 3 or target_script not in SCRIPTS.values():
        return False
    return sum(1 for s in known if s == target_script) / len(known) < 0.5


def repeats(text: str, times: int = 3) -> bool:
    """A word or a phrase of up to 4 words repeated ``times`` times in a row."""
    words = re.findall(r"\w+", text.casefold())
    for size in range(1, 5):
        for start in range(0, len(words) - size * times + 1):
            gram = words[start:start + size]
            if all(words[start + k * size:start + (k + 1) * size] == gram
                   for k in range(1, times)):
                return True
    return False


def length_off(source: str, text: str, ratio: float) -> bool:
    a, b = len(_letters(source)), len(_letters(text))
    if a < 6:  # short lines ("haan", "kya?") vary too much to judge
        return b > 40
    return b > ratio * a + 10 or (a >= 20 and b * ratio < a)
