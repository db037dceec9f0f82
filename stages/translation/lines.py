"""Lines to translate, prepared without any model (runs in every venv, pure Python).

- clean: control characters out (newlines become spaces), whitespace collapsed;
- pass-through: a line already in the target language or script (Hinglish written in Latin
  script, with target English) is kept as it is;
- units: fragments of one sentence (a segment that does not end a sentence, followed closely
  by the next) are merged for translation and the output is split back in proportion, so each
  segment keeps one line; a very long segment is split into sentences (then clauses) and the
  translations are joined: nothing is truncated;
- glossary: terms are replaced by numbered placeholders before translation and restored after,
  with a count of what was applied and what the model lost;
- untranslated: an engine's output that is no translation of its line (empty, the source
  text unchanged, or written mostly outside the target language's script: English, or another
  script, for a Hindi target), told apart from a line that may rightly stay as it is (no
  letters; one word, or two, such as a name, in a pair that shares a script). An answer in
  the wrong language but the target's script (English for French) cannot be told by script.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from shared.text_script import SCRIPT_WORDS, script_share

SENTENCE_END = re.compile(r"(?<=[.!?।॥])\s+")
CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
_ENDS_SENTENCE = re.compile(r"[.!?।॥…\"')\]]\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2028\u2029]")
PLACEHOLDER = "[{n}]"
_PLACEHOLDER_RE = re.compile(r"\[\s*(\d{1,3})\s*\]")


def clean(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def already_in_target(text: str, segment_lang: str | None, source_lang: str, target_lang: str,
                      source_script: str | None, target_script: str | None) -> bool:
    """A line needs no translation: ASR said it is in the target language, or it is written
    in the target's script while the source language uses another (Hinglish in Latin script
    for target English)."""
    if segment_lang and segment_lang == target_lang and segment_lang != source_lang:
        return True
    if not target_script or source_script == target_script:
        return False
    return script_share(text, target_script) >= 0.9


def _letters(text: str) -> str:
    """Letters and combining marks (Indic vowel signs), case-folded: what a comparison of two
    lines looks at (placeholders, digits, punctuation and emoji are left out)."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text).casefold()
                   if ch.isalpha() or unicodedata.category(ch).startswith("M"))


WRONG_SCRIPT = "wrong script"
OFF_TARGET = 0.5  # an output with less than this share of its letters in the target's script


def off_target(output: str, target_script: str | None) -> bool:
    """``output`` has letters and most of them are outside ``target_script`` (a known ISO
    15924 code): English, or another script, for a Hindi target. Names and numbers in Latin
    inside a Devanagari line keep it on target; a script the table does not know is never
    judged."""
    if target_script not in SCRIPT_WORDS or not any(ch.isalpha() for ch in output):
        return False
    return script_share(output, target_script, marks=True) < OFF_TARGET


def untranslated(source: str, output: str, source_script: str | None,
                 target_script: str | None) -> str | None:
    """Why ``output`` is no translation of ``source`` ("empty", "unchanged" or "wrong
    script"), or None.

    A line with no letters (numbers, punctuation, a placeholder, ♪) needs no translation.
    When the two languages share a script, one or two words may rightly come back as they are
    (a name, "Los Angeles", "No.", "Taxi"); three or more words unchanged are untranslated.
    When the scripts differ, output still written in the source's script is untranslated
    whatever its length. Any other output mostly outside the target's script is in the wrong
    language ("wrong script"); one in the target's script is taken as a translation, so a
    same-script pair (en -> fr answered in English) cannot be caught here."""
    if not _letters(source):
        return None
    if not _letters(output):
        return "empty"
    if _letters(output) != _letters(source):
        return WRONG_SCRIPT if off_target(output, target_script) else None
    if source_script and target_script and source_script != target_script:
        return "unchanged" if script_share(source, source_script) >= 0.5 else None
    return "unchanged" if len(re.findall(r"\w+", source)) >= 3 else None


def split_long(text: str, max_chars: int) -> list[str]:
    """Pieces of at most ``max_chars`` characters: sentences first, then clauses, then words."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    for pattern in (SENTENCE_END, CLAUSE_END, re.compile(r"\s+")):
        parts = [p for p in pattern.split(text) if p]
        if len(parts) > 1:
            current = ""
            for part in parts:
                candidate = f"{current} {part}".strip()
                if current and len(candidate) > max_chars:
                    pieces.append(current)
                    current = part
                else:
                    current = candidate
            pieces.append(current)
            out: list[str] = []
            for piece in pieces:
                out += split_long(piece, max_chars) if len(piece) > max_chars else [piece]
            return out
    return [text[i:i + max_chars] for i in range(0, len(text), max_chars)]


def split_proportionally(text: str, weights: list[int]) -> list[str]:
    """Cut a translated text back into len(weights) parts at word boundaries, in proportion to
    the source parts' lengths, preferring a punctuation mark near each cut. A text with fewer
    words than parts (Chinese, Japanese, Thai write no spaces) is cut between characters."""
    words = text.split()
    if len(weights) == 1:
        return [text.strip()]
    joiner = " "
    if len(words) < len(weights):
        words, joiner = list("".join(words)), ""
        if len(words) < len(weights):
            return [text.strip(), *[""] * (len(weights) - 1)]
    total = sum(weights) or 1
    parts: list[str] = []
    start = 0
    consumed = 0
    for i, weight in enumerate(weights[:-1]):
        consumed += weight
        remaining_parts = len(weights) - i - 1
        ideal = round(len(words) * consumed / total)
        lo, hi = start + 1, len(words) - remaining_parts
        if lo > hi:
            parts.append("")
            continue
        ideal = min(max(ideal, lo), hi)
        best = ideal
        for delta in range(0, 3):
            for cut in (ideal - delta, ideal + delta):
                if lo <= cut <= hi and re.search(r"[,.;:!?।॥。，、！？]$", words[cut - 1]):
                    best = cut
                    break
            else:
                continue
            break
        parts.append(joiner.join(words[start:best]))
        start = best
    parts.append(joiner.join(words[start:]))
    return parts


@dataclass
class Unit:
    """One text the engine translates: one or more segments (merged fragments) or a piece of a
    long segment."""

    segment_ids: list[int]
    text: str
    piece: int = 0  # index of this piece within a long segment
    pieces: int = 1


def build_units(texts: dict[int, str], gaps: dict[int, float], *, max_chars: int,
                merge: bool, max_gap: float = 0.6) -> list[Unit]:
    """``texts``: segment id -> cleaned text (in order), ``gaps``: id -> silence before the next
    segment. Fragments are merged while the merged text stays within ``max_chars``."""
    units: list[Unit] = []
    ids = list(texts)
    i = 0
    while i < len(ids):
        group = [ids[i]]
        text = texts[ids[i]]
        while (merge and i + 1 < len(ids) and not _ENDS_SENTENCE.search(text)
               and gaps.get(ids[i], 99.0) <= max_gap
               and len(text) + 1 + len(texts[ids[i + 1]]) <= max_chars):
            i += 1
            group.append(ids[i])
            text = f"{text} {texts[ids[i]]}"
        if len(group) == 1 and len(text) > max_chars:
            pieces = split_long(text, max_chars)
            units += [Unit([group[0]], p, k, len(pieces)) for k, p in enumerate(pieces)]
        else:
            units.append(Unit(group, text))
        i += 1
    return units


def assemble(units: list[Unit], outputs: list[str], texts: dict[int, str]) -> dict[int, str]:
    """Segment id -> translated line, from the units' outputs."""
    result: dict[int, str] = {}
    for unit, output in zip(units, outputs, strict=True):
        if len(unit.segment_ids) == 1:
            sid = unit.segment_ids[0]
            result[sid] = f"{result[sid]} {output}".strip() if unit.piece else output.strip()
        else:
            weights = [len(texts[s]) for s in unit.segment_ids]
            for sid, part in zip(unit.segment_ids, split_proportionally(output, weights),
                                 strict=True):
                result[sid] = part
    return result


@dataclass
class Protection:
    """Glossary terms found in one text, replaced by placeholders."""

    text: str
    terms: dict[int, tuple[str, str]] = field(default_factory=dict)  # n -> (term, translation)


def protect(text: str, glossary: dict[str, str], start: int = 1) -> Protection:
    """Replace each glossary term (longest first, whole words) with a numbered placeholder."""
    found: dict[int, tuple[str, str]] = {}
    n = start
    for term in sorted(glossary, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")
        while True:
            match = pattern.search(text)
            if not match:
                break
            text = text[:match.start()] + PLACEHOLDER.format(n=n) + text[match.end():]
            found[n] = (term, glossary[term])
            n += 1
    return Protection(text, found)


def restore(text: str, protection: Protection) -> tuple[str, list[str], list[str]]:
    """Put the terms' translations back. Returns (text, applied terms, lost terms): a
    placeholder the model dropped loses its term (reported)."""
    applied: list[str] = []

    def put(match: re.Match) -> str:
        n = int(match.group(1))
        if n not in protection.terms:
            return match.group(0)
        applied.append(protection.terms[n][0])
        return protection.terms[n][1]

    restored = _PLACEHOLDER_RE.sub(put, text)
    expected = Counter(term for term, _ in protection.terms.values())
    got = Counter(applied)
    return restored, applied, [term for term in expected if got[term] < expected[term]]


def rewrite_alternatives(text: str, spellings: dict[str, str]) -> tuple[str, list[str]]:
    """Replace alternative spellings (whole words) with the preferred one: a translation that
    wrote "Sri" for the glossary's "Shree". Returns the text and the alternatives replaced."""
    replaced: list[str] = []
    for alt in sorted(spellings, key=len, reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(alt)}(?!\w)")
        text, count = pattern.subn(spellings[alt], text)
        replaced += [alt] * count
    return text, replaced
