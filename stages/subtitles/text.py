"""What the rules know about words: reading length in grapheme clusters, sentence and clause
ends, conjunctions (a line or cue may start before one), words a line should not end on or
start with, and names (consecutive Capitalised words in Latin script) that stay together."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

SENTENCE_END = ".?!…।॥。！？۔؟"
CLAUSE_END = ",;:–—،"
_CLOSERS = "\"'”’»)]"

CONJUNCTIONS = frozenset({
    # English
    "and", "but", "or", "nor", "so", "yet", "because", "although", "though", "while", "when",
    "whereas", "which", "who", "whom", "whose", "where", "if", "unless", "until", "since",
    "that", "then", "than", "after", "before",
    # Hindi / Urdu (Devanagari)
    "और", "लेकिन", "पर", "परंतु", "परन्तु", "किंतु", "किन्तु", "मगर", "कि", "तो", "या", "अथवा",
    "क्योंकि", "जब", "जो", "अगर", "यदि", "इसलिए", "बल्कि", "ताकि", "वरना", "फिर", "जबकि", "तब",
})

# A line should not end on these (they belong to the word after them).
LEADING_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "from", "by", "my", "your",
    "his", "her", "its", "our", "their", "this", "these", "those", "i", "mr.", "mrs.", "dr.",
})

# A line should not start with these (Hindi postpositions and auxiliaries follow their word).
TRAILING_WORDS = frozenset({
    "का", "के", "की", "को", "में", "से", "ने", "तक", "है", "हैं", "था", "थी", "थे", "हूँ", "हूं",
    "हो", "ही", "भी", "गया", "गई", "गए", "रहा", "रही", "रहे",
})




def bare(word: str) -> str:
    """The word without surrounding punctuation, lower-cased."""
    return word.strip(SENTENCE_END + CLAUSE_END + _CLOSERS + "\"'“‘«([-").lower()


def _stripped_end(word: str) -> str:
    return word.rstrip(_CLOSERS)


def ends_sentence(word: str) -> bool:
    end = _stripped_end(word)
    return bool(end) and end[-1] in SENTENCE_END


def ends_clause(word: str) -> bool:
    end = _stripped_end(word)
    return bool(end) and end[-1] in CLAUSE_END


def is_conjunction(word: str) -> bool:
    return bare(word) in CONJUNCTIONS


def _latin_capitalised(word: str) -> bool:
    core = bare(word)
    if not core or not word.lstrip("\"'“‘«([")[:1].isupper():
        return False
    return all("LATIN" in unicodedata.name(ch, "") for ch in core if ch.isalpha())


@lru_cache(maxsize=1 << 16)
def joins_previous(previous: str, word: str) -> bool:
    """Whether ``word`` continues a name started by ``previous`` ("Shah" "Rukh" "Khan"):
    both Capitalised Latin words and no punctuation between them."""
    if ends_sentence(previous) or ends_clause(previous):
        return False
    return _latin_capitalised(previous) and _latin_capitalised(word)


@lru_cache(maxsize=1 << 16)
def break_cost(before: str, after: str) -> float:
    """Cost of a line (or cue) break between ``before`` and ``after``: negative is good."""
    if joins_previous(before, after):
        return 1000.0  # inside a name
    if ends_sentence(before):
        return -20.0
    if ends_clause(before):
        return -15.0
    cost = 0.0
    if is_conjunction(after):
        cost -= 12.0
    if bare(before) in LEADING_WORDS:
        cost += 10.0
    if bare(after) in TRAILING_WORDS:
        cost += 12.0
    return cost
