"""Word timing clean-up and sentence re-cutting, the same for both alignment methods.

Pure Python on shared.transcript's models (runs in every venv; unit-tested in the common one).
``finish`` takes segments whose words may lack times, lie outside their segment or overlap, and
returns segments in which every word has a start and end inside its segment, no word starts
before the previous one ends (across the whole file), and each segment holds at most one
sentence.
"""

from __future__ import annotations

import math

from shared.transcript import Segment, Word

# ASCII, ellipsis, Devanagari danda and double danda, CJK full-width, Urdu full stop and
# Arabic question mark: the sentence ends of Whisper's punctuation set and Indian scripts
SENTENCE_ENDINGS = ".?!…।॥。！？۔؟"
# what may follow a sentence end inside the same word: 'he said "go."' / (see below.)
_CLOSERS = "\"'”’»)]}"
# a "." after these does not end a sentence
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "mt",
                            "lt", "col", "gen", "sgt", "capt", "fig", "approx", "dept"})
# languages written without spaces: words are characters, joined with nothing
NO_SPACE_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "my", "km", "yue"})


def _time(value) -> float | None:
    """A finite float, or None for a missing / NaN time."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _weight(word: Word) -> int:
    return max(1, len(word.word.strip()))


def is_sentence_end(word: str, next_word: str | None, endings: str = SENTENCE_ENDINGS) -> bool:
    """Whether a sentence ends after ``word``. A "." or an ellipsis does not end one before a
    word that starts in lower case, and a "." not after an abbreviation (Dr., U.S., an
    initial J.)."""
    core = word.strip().rstrip(_CLOSERS)
    if not core or core[-1] not in endings:
        return False
    if core[-1] not in ".…":
        return True
    following = (next_word or "").strip().lstrip(_CLOSERS + "“‘«([{¿¡")
    if following and following[0].islower():
        return False
    if core[-1] == "…" or core.endswith(".."):
        return True
    stem = core.rstrip(".")
    return not (stem.lower() in _ABBREVIATIONS or "." in stem
                or (len(stem) == 1 and stem.isalpha()))


def words_from_text(text: str, language: str | None = None) -> list[Word]:
    """Untimed words for a segment that has none (times are filled in by ``fill_missing``)."""
    if language in NO_SPACE_LANGUAGES:
        units = [ch for ch in text if not ch.isspace()]
    else:
        units = [" " + w for w in text.split()]
    return [Word(word=unit, start=None, end=None, probability=0.0) for unit in units]


def fill_missing(words: list[Word], lo: float, hi: float) -> list[Word]:
    """Give words without a start or end a share of the gap between their placed neighbours
    (or the segment's edges), in proportion to their length. Returns new words."""
    out = [w.model_copy() for w in words]
    placed = [_time(w.start) is not None and _time(w.end) is not None for w in out]
    i = 0
    while i < len(out):
        if placed[i]:
            i += 1
            continue
        j = i
        while j < len(out) and not placed[j]:
            j += 1
        left = out[i - 1].end if i > 0 else lo
        right = out[j].start if j < len(out) else hi
        right = max(right, left)
        total = sum(_weight(w) for w in out[i:j])
        t = left
        for w in out[i:j]:
            share = (right - left) * _weight(w) / total
            w.start, w.end = t, t + share
            w.interpolated = True
            t += share
        i = j
    return out


def clamp(words: list[Word], lo: float, hi: float) -> list[Word]:
    """Every word inside [lo, hi], end >= start, and no word starting before the previous
    word's end (in place; returns ``words``)."""
    floor = lo
    for w in words:
        start = min(max(w.start, floor), hi)
        end = min(max(w.end, start), hi)
        w.start, w.end = round(start, 3), round(end, 3)
        floor = end
    return words


def split_sentences(words: list[Word], endings: str = SENTENCE_ENDINGS) -> list[list[Word]]:
    """The words cut after every sentence end (a trailing piece without one is kept)."""
    pieces: list[list[Word]] = [[]]
    for i, w in enumerate(words):
        pieces[-1].append(w)
        following = words[i + 1].word if i + 1 < len(words) else None
        if following is not None and is_sentence_end(w.word, following, endings):
            pieces.append([])
    return [p for p in pieces if p]


def finish(segments: list[Segment], *, split: bool = True, endings: str = SENTENCE_ENDINGS,
           default_language: str | None = None) -> list[Segment]:
    """The post-pass: fill, clamp and order word times, then cut segments at sentence ends.
    Segment times become their words' span; each piece keeps its segment's other fields and
    records the segment it came from (``source_id``). Segments without text are dropped."""
    out: list[Segment] = []
    floor = 0.0
    for seg in sorted(segments, key=lambda s: s.start):
        language = seg.language or default_language
        words = [w for w in seg.words if w.word.strip()]
        if not words:
            words = words_from_text(seg.text, language)
        if not words:
            continue
        lo = max(seg.start, floor)
        hi = max(seg.end, lo)
        words = clamp(fill_missing(words, lo, hi), lo, hi)
        floor = words[-1].end
        pieces = split_sentences(words, endings) if split else [words]
        joiner = "" if language in NO_SPACE_LANGUAGES else " "
        for piece in pieces:
            text = seg.text.strip() if len(pieces) == 1 else \
                joiner.join(w.word.strip() for w in piece)
            out.append(seg.model_copy(update={
                "id": len(out), "source_id": seg.id, "language": language,
                "start": piece[0].start, "end": piece[-1].end, "text": text, "words": piece}))
    return out
