"""Text evidence for the songs stage (pure Python: runs in every venv, unit-tested in common).

Lyrics repeat: a refrain comes back every verse, a hook repeats inside its own line. A
segment's *repetition* is the share of its word n-grams that occur again, either elsewhere in
the same line or in another segment that starts or ends within ``window_s`` of it. Lines
shorter than n words count as one n-gram (the whole line), so a two-word hook repeated is a
repetition too. Words are compared case-folded with punctuation and symbols removed, so
"Tum hi ho," and "tum hi ho" are the same line; combining marks of Indic scripts are kept.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.transcript import Segment


def tokens(text: str) -> list[str]:
    """Case-folded words without punctuation or symbols (letters, marks and digits stay)."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch
                      for ch in text.casefold())
    return cleaned.split()


def ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    """The line's n-grams in order; a line shorter than n words is one n-gram."""
    if not words:
        return []
    if len(words) <= n:
        return [tuple(words)]
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


@dataclass(frozen=True)
class TextEvidence:
    words: int
    repetition: float  # 0..1: share of the line's n-grams that recur
    repeated: tuple[str, ...]  # the recurring n-grams, joined with spaces (for songs.json)


def repetition(segments: list[Segment], n: int, window_s: float) -> list[TextEvidence]:
    """Per segment (in the given order), how much of its text recurs nearby or in itself."""
    words = [tokens(s.text) for s in segments]
    grams = [ngrams(w, n) for w in words]
    counts = [Counter(g) for g in grams]
    starts = [s.start for s in segments]
    ends = [max(s.end, st) for s, st in zip(segments, starts, strict=True)]
    order = sorted(range(len(segments)), key=lambda i: starts[i])
    sorted_starts = [starts[i] for i in order]
    longest = max((e - s for s, e in zip(starts, ends, strict=True)), default=0.0)
    evidence: list[TextEvidence] = []
    for i in range(len(segments)):
        seen: Counter = Counter()
        first = bisect.bisect_left(sorted_starts, starts[i] - window_s - longest)
        for j in order[first:]:
            if starts[j] > ends[i] + window_s:
                break
            if j != i and ends[j] >= starts[i] - window_s:
                seen.update(counts[j].keys())
        recurring = [g for g in grams[i] if seen[g] or counts[i][g] > 1]
        share = len(recurring) / len(grams[i]) if grams[i] else 0.0
        evidence.append(TextEvidence(len(words[i]), round(share, 4),
                                     tuple(dict.fromkeys(" ".join(g) for g in recurring))))
    return evidence
