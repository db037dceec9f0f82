"""Turn timed ASR segments into subtitle cues that fit on screen: at most ``max_lines`` lines
of ``max_chars`` characters and ``max_duration`` seconds, split at word boundaries using word
timestamps. Character counts are reading units: Devanagari vowel signs, viramas and the second
consonant of a conjunct do not count as characters of their own."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass
class Cue:
    start: float
    end: float
    text: str  # lines joined with "\n"


def visible_length(text: str) -> int:
    """Reading units: combining marks add nothing, and a consonant joined to the previous one
    by a virama (a conjunct such as स्त) counts once, as in Unicode's grapheme clusters."""
    count, after_virama = 0, False
    for ch in text:
        if ch in "\u200c\u200d":
            continue
        if unicodedata.category(ch)[0] == "M":
            after_virama = "VIRAMA" in unicodedata.name(ch, "")
            continue
        if not (after_virama and ch.isalpha()):
            count += 1
        after_virama = False
    return count


def wrap(text: str, max_chars: int, max_lines: int) -> list[str]:
    """Break ``text`` into lines of at most ``max_chars``; two lines are balanced, the bottom
    one no shorter than needed. Returns more than ``max_lines`` lines only if it cannot fit."""
    words = text.split()
    if not words:
        return []
    if visible_length(text) <= max_chars:
        return [" ".join(words)]
    if max_lines >= 2:
        best: tuple[int, list[str]] | None = None
        for cut in range(1, len(words)):
            top, bottom = " ".join(words[:cut]), " ".join(words[cut:])
            lt, lb = visible_length(top), visible_length(bottom)
            if lt <= max_chars and lb <= max_chars:
                score = abs(lt - lb) + (0 if lb >= lt else 2)  # prefer a bottom-heavy pyramid
                if best is None or score < best[0]:
                    best = (score, [top, bottom])
        if best:
            return best[1]
    lines, current = [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if current and visible_length(candidate) > max_chars:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _fits(text: str, duration: float, max_chars: int, max_lines: int, max_duration: float):
    return len(wrap(text, max_chars, max_lines)) <= max_lines and duration <= max_duration


def segment_to_cues(segment: dict, max_chars: int = 42, max_lines: int = 2,
                    max_duration: float = 7.0) -> list[Cue]:
    text = " ".join(segment.get("text", "").split())
    start, end = float(segment["start"]), float(segment["end"])
    if not text:
        return []
    if _fits(text, end - start, max_chars, max_lines, max_duration):
        return [Cue(start, end, "\n".join(wrap(text, max_chars, max_lines)))]
    words = [w for w in segment.get("words") or [] if w.get("word", "").strip()]
    if not words:  # no word timing: split the text evenly over the segment's time
        return _split_without_words(text, start, end, max_chars, max_lines, max_duration)
    cues: list[Cue] = []
    group: list[dict] = []
    for word in words:
        candidate = group + [word]
        candidate_text = "".join(w["word"] for w in candidate).strip()
        duration = float(word["end"]) - float(candidate[0]["start"])
        if group and not _fits(candidate_text, duration, max_chars, max_lines, max_duration):
            cues.append(_cue_from_words(group, max_chars, max_lines))
            group = [word]
        else:
            group = candidate
    if group:
        cues.append(_cue_from_words(group, max_chars, max_lines))
    return cues


def _cue_from_words(words: list[dict], max_chars: int, max_lines: int) -> Cue:
    text = " ".join("".join(w["word"] for w in words).split())
    return Cue(float(words[0]["start"]), float(words[-1]["end"]),
               "\n".join(wrap(text, max_chars, max_lines)))


def _split_without_words(text, start, end, max_chars, max_lines, max_duration) -> list[Cue]:
    words = text.split()
    chunks, current = [], []
    for word in words:
        if current and len(wrap(" ".join(current + [word]), max_chars, max_lines)) > max_lines:
            chunks.append(current)
            current = []
        current.append(word)
    if current:
        chunks.append(current)
    total = sum(visible_length(" ".join(c)) for c in chunks) or 1
    cues, t = [], start
    for chunk in chunks:
        share = (end - start) * visible_length(" ".join(chunk)) / total
        cues.append(Cue(t, t + share, "\n".join(wrap(" ".join(chunk), max_chars, max_lines))))
        t += share
    return cues


def build_cues(segments: list[dict], offset: float = 0.0, max_chars: int = 42,
               max_lines: int = 2, max_duration: float = 7.0,
               min_duration: float = 5 / 6) -> list[Cue]:
    """Cues for all segments, shifted by ``offset``; short cues are extended up to
    ``min_duration`` where the next cue leaves room; overlaps are removed."""
    cues = [c for s in segments for c in segment_to_cues(s, max_chars, max_lines, max_duration)]
    cues.sort(key=lambda c: c.start)
    for i, cue in enumerate(cues):
        next_start = cues[i + 1].start if i + 1 < len(cues) else None
        if cue.end - cue.start < min_duration:
            wanted = cue.start + min_duration
            cue.end = min(wanted, next_start) if next_start is not None else wanted
        if next_start is not None and cue.end > next_start:
            cue.end = next_start
        cue.start += offset
        cue.end += offset
    return [c for c in cues if c.end > c.start]
