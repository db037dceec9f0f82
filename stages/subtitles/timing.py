"""The fixing pass over cue times, at the video's frame rate: cues never overlap and keep the
minimum gap, stay at least ``min_duration`` and at most ``max_duration`` on screen, linger a
little after their speech when the next cue leaves room, and close gaps that would flicker.
Times end on whole centiseconds, so SRT, WebVTT and ASS (centisecond times) agree."""

from __future__ import annotations

import math
from dataclasses import dataclass

from stages.subtitles.cues import Cue
from stages.subtitles.style import StyleProfile

STEP = 10  # ms: ASS times are centiseconds


def _up(ms: float) -> int:
    return int(math.ceil(round(ms, 6) / STEP) * STEP)


def _down(ms: float) -> int:
    return int(math.floor(round(ms, 6) / STEP) * STEP)


def _snap(ms: float) -> int:
    return int(round(ms / STEP) * STEP)


@dataclass(frozen=True)
class Timing:
    """The profile's time rules in milliseconds at one frame rate."""

    fps: float
    gap: int
    close: int
    min_duration: int
    max_duration: int
    linger: int

    @classmethod
    def of(cls, profile: StyleProfile, fps: float) -> Timing:
        return cls(fps=fps, gap=_up(profile.min_gap_frames * 1000 / fps),
                   close=_snap(profile.close_gap_frames * 1000 / fps),
                   min_duration=_up(profile.min_duration * 1000),
                   max_duration=max(STEP, _down(profile.max_duration * 1000)),
                   linger=_down(profile.linger_s * 1000))


def fix(cues: list[Cue], rules: Timing) -> list[Cue]:
    """Adjust the times of ``cues`` (in order) in place and return them."""
    for cue in cues:
        cue.start, cue.end = max(0, _snap(cue.start)), _snap(cue.end)
        cue.speech_end = _snap(cue.speech_end)
    for i, cue in enumerate(cues):
        prev = cues[i - 1] if i else None
        if prev is not None and cue.start < prev.end + rules.gap:
            cue.start = prev.end + rules.gap  # only when the previous cue could not give way
        following = cues[i + 1].start if i + 1 < len(cues) else None
        limit = following - rules.gap if following is not None else math.inf
        end = max(cue.end, cue.start + STEP)
        end = max(end, min(cue.speech_end + rules.linger, limit))
        if end - cue.start < rules.min_duration:
            end = max(end, min(cue.start + rules.min_duration, limit))
        if following is not None and end < limit and following - end < rules.close:
            end = limit
        end = min(end, cue.start + rules.max_duration, limit)
        if end - cue.start < rules.min_duration:  # no room after: show it earlier instead
            floor = prev.end + rules.gap if prev is not None else 0
            cue.start = max(floor, min(cue.start, end - rules.min_duration))
        cue.end = int(max(end, cue.start + STEP))
    return cues
