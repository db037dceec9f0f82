"""Whisper's known failure modes, removed after decoding and reported, never silently:

- repetition loops: a segment whose text compresses more than ``max_compression_ratio``
  (Whisper's own measure, zlib; removed: a loop of whole clauses that the collapse below
  cannot undo, such as 50 s of "my uncle left her parcel by the blue gate, the captain
  left ..., my uncle left ..."), a phrase repeated many times inside a segment (collapsed to
  one), or the same text in several consecutive segments (the repeats are removed);
- boilerplate that Whisper emits over silence and music: "thanks for watching", subtitle
  credits, "please subscribe", in English and Hindi;
- segments that lie over non-speech, when the vad stage's speech regions are known;
- segments with an impossible reading speed (characters per second).

Each removal names its ``kind`` (empty, boilerplate, loop, repeat, non_speech,
reading_speed). Pure functions on segment dicts (as written by the asr stage), so they run in
any venv; the asr stage decodes a removed loop's span again (stages.asr.redecode).
"""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass, field

from shared.words import normalize_words as normalize

# Phrases Whisper produces from its training data's subtitle credits and video outros. Matched
# on the normalized text of a whole segment (lowercase, punctuation removed).
BOILERPLATE = (
    "thanks for watching", "thank you for watching", "thank you so much for watching",
    "please subscribe", "subscribe to my channel", "like and subscribe",
    "don't forget to subscribe", "see you in the next video", "subtitles by",
    "subtitles by the amara org community", "amara org", "transcribed by",
    "translated by", "captions by", "copyright", "www", "http",
    "देखने के लिए धन्यवाद", "धन्यवाद", "सब्सक्राइब", "चैनल को सब्सक्राइब करें",
    "लाइक और सब्सक्राइब", "शेयर और सब्सक्राइब", "उपशीर्षक",
)


LOOP = "loop"  # a removal's kind when its text compresses over max_compression_ratio


@dataclass
class FilterOptions:
    min_repeats: int = 3  # a phrase this many times in a row is a loop
    max_cps: float = 35.0  # characters per second no one can speak
    # zlib ratio of a segment's text above which it is a loop (None: not checked). Measured:
    # the true text of a film of template sentences compresses at most 3.3 over any 30 s and
    # 4.0 over any 60 s; base's loops on that film 6.8 and 8.6 (asr.max_compression_ratio)
    max_compression_ratio: float | None = 5.0
    min_speech_overlap: float = 0.2  # share of a segment that must lie over detected speech
    boilerplate: tuple[str, ...] = BOILERPLATE


@dataclass
class FilterReport:
    kept: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)  # {"segment", "kind", "reason"}
    changed: list[dict] = field(default_factory=list)  # {"before", "after", "reason"}


def collapse_loop(text: str, min_repeats: int) -> str | None:
    """The text with a phrase repeated ``min_repeats``+ times in a row reduced to one copy,
    or None if there is no such loop."""
    words = text.split()
    n = len(words)
    for size in range(1, n // min_repeats + 1):
        i = 0
        while i + size * min_repeats <= n:
            unit = [normalize(w) for w in words[i:i + size]]
            count = 1
            while words[i + count * size:i + (count + 1) * size] and \
                    [normalize(w) for w in words[i + count * size:i + (count + 1) * size]] == unit:
                count += 1
            if count >= min_repeats:
                kept = words[:i + size] + words[i + count * size:]
                return " ".join(kept)
            i += 1
    return None


def compression_ratio(text: str) -> float:
    """Whisper's measure of repetition: the text's UTF-8 bytes over their zlib-compressed size
    (faster_whisper.transcribe.get_compression_ratio). faster-whisper reports it per 30-s
    decoding window (every segment of a window has the window's value), so the filter
    measures each segment's own text: a loop is caught without its window's other segments."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _speech_overlap(segment: dict, regions: list[tuple[float, float]]) -> float:
    start, end = float(segment["start"]), float(segment["end"])
    if end <= start:
        return 0.0
    covered = sum(max(0.0, min(end, e) - max(start, s)) for s, e in regions)
    return covered / (end - start)


def _reading_units(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace() and unicodedata.category(ch)[0] != "M")


def filter_segments(segments: list[dict], speech: list[tuple[float, float]] | None = None,
                    options: FilterOptions | None = None) -> FilterReport:
    """Apply every rule; each removal or change is reported with its reason."""
    options = options or FilterOptions()
    report = FilterReport()
    boiler = {normalize(p) for p in options.boilerplate}
    previous: list[str] = []
    for segment in segments:
        text = segment.get("text", "").strip()
        norm = normalize(text)
        if not norm:
            report.removed.append({"segment": segment, "kind": "empty", "reason": "empty text"})
            continue
        if norm in boiler:
            report.removed.append({"segment": segment, "kind": "boilerplate", "reason":
                                   "boilerplate phrase Whisper emits over silence or music"})
            continue
        ratio = compression_ratio(text)
        if options.max_compression_ratio and ratio > options.max_compression_ratio:
            report.removed.append({"segment": segment, "kind": LOOP, "reason": f"repetition "
                                   f"loop: the text compresses {ratio:.1f}x (limit "
                                   f"{options.max_compression_ratio:g})"})
            continue
        collapsed = collapse_loop(text, options.min_repeats)
        if collapsed is not None:
            report.changed.append({"before": text, "after": collapsed, "id": segment.get("id"),
                                   "reason": f"repetition loop (a phrase {options.min_repeats}+"
                                   " times in a row) collapsed"})
            segment = {**segment, "text": collapsed, "words": _trim_words(segment, collapsed)}
            text, norm = collapsed, normalize(collapsed)
        if len(previous) >= options.min_repeats - 1 and \
                all(p == norm for p in previous[-(options.min_repeats - 1):]):
            report.removed.append({"segment": segment, "kind": "repeat", "reason": f"the "
                                   f"same text in {options.min_repeats}+ consecutive segments"})
            continue
        previous.append(norm)
        if speech is not None and _speech_overlap(segment, speech) < options.min_speech_overlap:
            report.removed.append({"segment": segment, "kind": "non_speech",
                                   "reason": "over a region the vad stage found no speech in"})
            continue
        duration = float(segment["end"]) - float(segment["start"])
        cps = _reading_units(text) / duration if duration > 0 else float("inf")
        if cps > options.max_cps:
            report.removed.append({"segment": segment, "kind": "reading_speed", "reason":
                                   f"{cps:.0f} characters per second (limit "
                                   f"{options.max_cps:g}): not speech"})
            continue
        report.kept.append(segment)
    return report


def _trim_words(segment: dict, collapsed: str) -> list[dict]:
    """Word timings for a collapsed text: keep the first words up to its length."""
    words = segment.get("words") or []
    keep = len(collapsed.split())
    return words[:keep] if words else []

