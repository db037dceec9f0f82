"""The fixing pass over cue times, at the video's frame rate: cues never overlap and keep the
minimum gap, end with their speech (a cue lingers up to ``linger_s`` after its last word, but
never past the end of the speech region the VAD found there), stay on longer only where the
minimum duration, the reading speed or a gap that would flicker needs it (the cue records
which: ``Cue.held``), stay at most ``max_duration``, never start before the audio does and
never end after it (the media's end, or the clip's).
Times end on whole centiseconds, so SRT, WebVTT and ASS (centisecond times) agree."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.subtitle_text import graphemes
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
    max_cps: float = math.inf

    @classmethod
    def of(cls, profile: StyleProfile, fps: float) -> Timing:
        return cls(fps=fps, gap=_up(profile.min_gap_frames * 1000 / fps),
                   close=_snap(profile.close_gap_frames * 1000 / fps),
                   min_duration=_up(profile.min_duration * 1000),
                   max_duration=max(STEP, _down(profile.max_duration * 1000)),
                   linger=_down(profile.linger_s * 1000), max_cps=profile.max_cps)

    def reading(self, cue: Cue) -> int:
        """Milliseconds the cue's text needs at the reading-speed limit."""
        return _up(graphemes(" ".join(cue.lines)) / self.max_cps * 1000)


def spoken_end(cue: Cue, rules: Timing) -> int:
    """Where the cue would end by its speech alone: its last word, plus the linger while the
    speech region lasts (the whole linger when no regions are known)."""
    hold = cue.speech_end + rules.linger
    if cue.speech_limit is not None:
        hold = min(hold, max(cue.speech_limit, cue.speech_end))
    return max(cue.end, hold)


def fix(cues: list[Cue], rules: Timing, audio_start: int = 0,
        audio_end: int | None = None) -> list[Cue]:
    """Adjust the times of ``cues`` (in order) in place and return them; no cue starts before
    ``audio_start`` or ends after ``audio_end`` (ms on the media's timeline; None: no end)."""
    floor0 = _up(max(audio_start, 0))
    ceiling = _down(audio_end) if audio_end is not None else math.inf
    for cue in cues:
        cue.start, cue.end = max(floor0, _snap(cue.start)), _snap(cue.end)
        cue.start = int(max(floor0, min(cue.start, ceiling - STEP)))
        cue.speech_end = _snap(cue.speech_end)
        if cue.speech_limit is not None:
            cue.speech_limit = _snap(cue.speech_limit)
    for i, cue in enumerate(cues):
        prev = cues[i - 1] if i else None
        if prev is not None and cue.start < prev.end + rules.gap:
            cue.start = prev.end + rules.gap  # only when the previous cue could not give way
        following = cues[i + 1].start if i + 1 < len(cues) else None
        limit = min(following - rules.gap if following is not None else math.inf, ceiling)
        spoken = max(min(spoken_end(cue, rules), limit), cue.start + STEP)
        end, cue.held, earlier = spoken, None, False
        for rule, need in (("min_duration", rules.min_duration),
                           ("max_cps", rules.reading(cue))):
            if end - cue.start < need and min(cue.start + need, limit) > end:
                end, cue.held = min(cue.start + need, limit), rule
        if following is not None and end < limit and following - end < rules.close:
            end, cue.held = limit, cue.held or "close_gap"
        end = min(end, cue.start + rules.max_duration, limit)
        if end - cue.start < rules.min_duration:  # no room after: show it earlier instead
            floor = prev.end + rules.gap if prev is not None else floor0
            begin = max(floor, min(cue.start, end - rules.min_duration))
            earlier, cue.start = begin < cue.start, begin
        cue.end = int(max(end, cue.start + STEP))
        if earlier:
            cue.held = "min_duration"  # on before its speech
        elif cue.end <= spoken:
            cue.held = None
    return cues
