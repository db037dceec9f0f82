"""Which languages a recording holds, where, and how much: the -s auto detection windows, the
rule that switches per-region decoding on when they disagree, and each language's share of
the speech. Pure functions (no model): stages.asr.decode runs the detector on the windows,
the subtitles stage reads the shares of its segments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.transcript import Segment

Region = tuple[float, float]  # seconds on the audio's own timeline

WINDOW_S = 30.0  # Whisper's input: a longer window is cut
MIN_WINDOW_S = 5.0  # measured: base detects jfk / espeak es in 5 s windows at p 0.83-0.95


def detection_windows(regions: Iterable[Region], count: int) -> list[list[Region]]:
    """Up to ``count`` windows of consecutive speech, spread evenly over the whole recording.
    A window holds at most 30 s of speech, less when the recording is short (its speech over
    ``count``, at least 5 s), so that a short file in two languages still gets windows on
    both sides of the switch."""
    from stages.asr.decode import speech_groups

    regions = sorted(regions)
    size = window_size(sum(end - start for start, end in regions), count)
    groups = speech_groups([{"start": s, "end": e} for s, e in regions], size)
    return spread(groups, count)


def window_size(speech_s: float, count: int) -> float:
    """The speech in one detection window: ``count`` windows over the speech, 5 to 30 s."""
    return min(WINDOW_S, max(MIN_WINDOW_S, speech_s / max(count, 1)))


def spread(items: list, count: int) -> list:
    """``count`` items spread evenly over ``items`` (all of them if there are fewer)."""
    if len(items) <= count:
        return items
    if count == 1:
        return items[:1]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def combine(windows: list[dict]) -> list[tuple[str, float]]:
    """The windows' language probabilities averaged, each window weighted by its speech."""
    total = sum(w["speech_s"] for w in windows) or 1.0
    summed: dict[str, float] = {}
    for window in windows:
        for lang, p in window["probabilities"].items():
            summed[lang] = summed.get(lang, 0.0) + p * window["speech_s"] / total
    return sorted(summed.items(), key=lambda item: -item[1])


def switch_reason(windows: list[dict], language: str, min_probability: float,
                  min_share: float) -> str | None:
    """Why per-region decoding must switch on, or None when the windows agree: at least two
    windows, or windows holding ``min_share`` of the windows' speech, detect a language other
    than ``language`` with probability ``min_probability`` or more."""
    others = [w for w in windows if w["language"] != language
              and w["probability"] >= min_probability]
    total = sum(w["speech_s"] for w in windows) or 1.0
    share = sum(w["speech_s"] for w in others) / total
    if not others or (len(others) < 2 and share < min_share):
        return None
    found = ", ".join(f"{w['language']} (p={w['probability']:.2f}) at {w['start']:.1f}-"
                      f"{w['end']:.1f} s" for w in others)
    return (f"{len(others)} of {len(windows)} detection window(s), {share:.0%} of their "
            f"speech, are confidently not '{language}': {found}")


def shares(segments: Iterable[Segment], default: str | None = None) -> dict[str, float]:
    """Each language's share of the segments' speech time (largest first, summing to 1)."""
    seconds: dict[str, float] = {}
    for segment in segments:
        lang = segment.language or default or "und"
        length = max(0.0, segment.end - segment.start)
        seconds[lang] = seconds.get(lang, 0.0) + length
    total = sum(seconds.values())
    if not total:
        return {lang: round(1.0 / len(seconds), 4) for lang in seconds}
    return {lang: round(s / total, 4)
            for lang, s in sorted(seconds.items(), key=lambda item: -item[1])}


def dominant(language_shares: dict[str, float], default: str) -> str:
    """The language with the most speech (``default`` when there is none)."""
    return max(language_shares, key=lambda lang: language_shares[lang]) \
        if language_shares else default
