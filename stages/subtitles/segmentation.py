"""Segments -> cues. Each segment's words (timed by alignment, or spread over the segment by
length when it has none: translated text) are cut into the fewest cues that fit the profile,
at sentence ends first, then clause ends and conjunctions, then the longest pause, keeping
names whole and cue sizes even; then very short neighbouring cues are merged."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from shared.subtitle_text import graphemes
from stages.subtitles.cues import Cue, InputReport, Word, clock
from stages.subtitles.speech import Speech
from stages.subtitles.style import StyleProfile
from stages.subtitles.text import break_cost
from stages.subtitles.wrapping import greedy, wrap

if TYPE_CHECKING:
    from shared.transcript import Line, Segment

MS_PER_GRAPHEME = 70  # a guess at speech speed, for words with no usable time


def _ms(value: Any, offset: float) -> int | None:
    try:
        return round((float(value) + offset) * 1000)
    except (TypeError, ValueError):
        return None


def spread(tokens: list[str], start: int, end: int) -> list[Word]:
    """Words over [start, end] in proportion to their length (text with no word times)."""
    weights = [graphemes(t) + 1 for t in tokens]
    total = sum(weights) or 1
    if end <= start:
        end = start + MS_PER_GRAPHEME * total
    words, t = [], float(start)
    for token, weight in zip(tokens, weights, strict=True):
        step = (end - start) * weight / total
        words.append(Word(token, round(t), round(t + step)))
        t += step
    return words


def timed_words(segment: Segment | Line, offset: float, report: InputReport,
                speech: Speech | None = None) -> list[Word]:
    """The segment's words with usable times: a word with no, zero or negative duration gets
    the room between its neighbours (reported); with ``speech``, times are clipped to it."""
    seg_start = _ms(segment.start, offset)
    seg_end = _ms(segment.end, offset)
    raw = [w for w in segment.words if w.word.strip()]
    if not raw:
        tokens = segment.text.split()
        if seg_start is None:
            return []
        words = spread(tokens, seg_start, seg_end if seg_end is not None else seg_start)
        return _clipped(words, speech, report)
    starts = [_ms(w.start, offset) for w in raw]
    ends = [_ms(w.end, offset) for w in raw]
    words: list[Word] = []
    for k, w in enumerate(raw):
        text = w.word.strip()
        start, end = starts[k], ends[k]
        if start is not None and end is not None and end > start:
            words.append(Word(text, start, end))
            continue
        low = words[-1].end if words else (seg_start if seg_start is not None else 0)
        begin = start if start is not None and start >= low else low
        later = [s for s in starts[k + 1:] if s is not None and s > begin]
        high = later[0] if later else (seg_end if seg_end is not None and seg_end > begin
                                       else begin + MS_PER_GRAPHEME * graphemes(text))
        finish = max(begin + 10, min(high, begin + MS_PER_GRAPHEME * graphemes(text)))
        report.fixed_words.append({"word": text, "at": clock(begin),
                                   "was": [w.start, w.end],
                                   "now": [begin / 1000, finish / 1000]})
        words.append(Word(text, begin, finish))
    out: list[Word] = []
    for word in _in_order(_clipped(words, speech, report)):  # several tokens: spread them
        parts = word.text.split()
        out += [word] if len(parts) == 1 else spread(parts, word.start, word.end)
    return out


def _clipped(words: list[Word], speech: Speech | None, report: InputReport) -> list[Word]:
    if speech is not None:
        report.clipped_words += sum(speech.clip(word) for word in words)
    return words


def _in_order(words: list[Word]) -> list[Word]:
    for prev, word in zip(words, words[1:], strict=False):
        if word.start < prev.start:
            word.start, word.end = prev.start, max(word.end, prev.start + 10)
    return words


def _cue_cost(words: list[Word], i: int, j: int, chars: int, profile: StyleProfile) -> float:
    capacity = profile.max_chars_per_line * profile.max_lines
    cost = 10.0 + 6.0 * (1 - min(chars, capacity) / capacity) ** 2  # fewer, evenly filled
    if j < len(words):
        cost += break_cost(words[j - 1].text, words[j].text)
        pause = words[j].start - words[j - 1].end
        cost -= 6.0 * min(max(pause, 0), 500) / 500
    if words[j - 1].end - words[i].start < profile.min_duration * 1000:
        cost += 8.0
    return cost


def split(words: list[Word], profile: StyleProfile) -> list[list[Word]]:
    """The cheapest cut of ``words`` into cues that fit (lines, characters, duration); a single
    word that cannot fit makes a cue of its own."""
    n = len(words)
    best = [math.inf] * (n + 1)
    back = [0] * (n + 1)
    best[0] = 0.0
    max_ms = profile.max_duration * 1000
    capacity = profile.max_chars_per_line * profile.max_lines
    for i in range(n):
        if best[i] == math.inf:
            continue
        chars = -1
        for j in range(i + 1, n + 1):
            chars += graphemes(words[j - 1].text) + 1
            if j > i + 1:
                if chars > capacity or words[j - 1].end - words[i].start > max_ms:
                    break
                lines = greedy([w.text for w in words[i:j]], profile.max_chars_per_line)
                if len(lines) > profile.max_lines:
                    continue
            cost = best[i] + _cue_cost(words, i, j, chars, profile)
            if cost < best[j]:
                best[j], back[j] = cost, i
    pieces, j = [], n
    while j > 0:
        pieces.append(words[back[j]:j])
        j = back[j]
    return pieces[::-1]


def make_cue(words: list[Word], profile: StyleProfile, lyrics: bool = False,
             speech: Speech | None = None) -> Cue:
    texts = [w.text for w in words]
    end = max(w.end for w in words)
    return Cue(start=words[0].start, end=end, words=texts,
               lines=wrap(texts, profile.max_chars_per_line, profile.max_lines),
               speech_end=end, lyrics=lyrics,
               speech_limit=speech.end_after(end) if speech is not None else None)


def _share_source(source: str, pieces: list[list[Word]]) -> list[str]:
    """A translated segment's source text cut in the same proportions as its cues."""
    tokens = source.split()
    sizes = [sum(graphemes(w.text) + 1 for w in piece) for piece in pieces]
    total = sum(sizes) or 1
    out, taken, acc = [], 0, 0
    for k, size in enumerate(sizes):
        acc += size
        upto = len(tokens) if k == len(sizes) - 1 else round(len(tokens) * acc / total)
        out.append(" ".join(tokens[taken:upto]))
        taken = max(taken, upto)
    return out


def build(segments: list[Segment] | list[Line], profile: StyleProfile, offset: float,
          report: InputReport, speech: Speech | None = None) -> list[Cue]:
    """Every segment's cues, in time order, short neighbours merged; word times clipped to
    ``speech`` when the job knows where it is."""
    cues: list[Cue] = []
    order = sorted(range(len(segments)),
                   key=lambda k: _ms(segments[k].start, 0.0) or 0)
    for index in order:
        segment = segments[index]
        text = " ".join(segment.text.split())
        words = timed_words(segment, offset, report, speech) if text else []
        if not words:
            report.dropped_empty.append({"segment": index if segment.id is None else segment.id,
                                         "at": clock(_ms(segment.start, offset) or 0),
                                         "origin": segment.origin})
            continue
        lyrics = bool(segment.lyrics)
        pieces = split(words, profile)
        sources = (_share_source(segment.source_text, pieces)
                   if segment.source_text else [None] * len(pieces))
        for piece, source in zip(pieces, sources, strict=True):
            cue = make_cue(piece, profile, lyrics, speech)
            cue.source_text = source
            cue.language = segment.language
            cue.untranslated = segment.origin == "untranslated"
            cues.append(cue)
    return merge_short(cues, profile)


def merge_short(cues: list[Cue], profile: StyleProfile) -> list[Cue]:
    """Merge a cue shorter than ``merge_below_s`` into its neighbour when they are close
    (less than ``close_gap_frames`` at 24 fps apart), in the same language, and the result
    still fits."""
    short = profile.merge_below_s * 1000
    close = profile.close_gap_frames * 1000 / 24
    out: list[Cue] = []
    for cue in cues:
        prev = out[-1] if out else None
        if (prev is not None and (prev.duration < short or cue.duration < short)
                and 0 <= cue.start - prev.end <= close and prev.lyrics == cue.lyrics
                and prev.language == cue.language
                and prev.untranslated == cue.untranslated
                and cue.end - prev.start <= profile.max_duration * 1000):
            words = prev.words + cue.words
            if len(greedy(words, profile.max_chars_per_line)) <= profile.max_lines:
                merged = Cue(start=prev.start, end=max(prev.end, cue.end), words=words,
                             lines=wrap(words, profile.max_chars_per_line, profile.max_lines),
                             speech_end=max(prev.speech_end, cue.speech_end),
                             speech_limit=cue.speech_limit, lyrics=cue.lyrics,
                             source_text=" ".join(t for t in (prev.source_text, cue.source_text)
                                                  if t) or None, language=cue.language,
                             untranslated=cue.untranslated)
                out[-1] = merged
                continue
        out.append(cue)
    return out


def naive(segments: list[Segment] | list[Line], profile: StyleProfile, offset: float) -> list[Cue]:
    """The input as it came, one cue per segment (the QC report's 'before')."""
    cues = []
    for segment in segments:
        tokens = segment.text.split()
        start, end = _ms(segment.start, offset), _ms(segment.end, offset)
        if tokens and start is not None and end is not None:
            cues.append(Cue(start, end, tokens, greedy(tokens, profile.max_chars_per_line),
                            speech_end=end))
    cues.sort(key=lambda c: c.start)
    return cues
