"""Where the speech is, for cue timing: the vad stage's regions (speech_segments.json) or, in a
job without one, the regions faster-whisper's Silero VAD found in asr (segments.json's
``speech_regions``, padded 0.1 s like the vad stage's). Word times are clipped to them, so a
word Whisper let run on into a pause or the score ends where the speech does, and a cue's
linger stops at the end of its speech region."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path

from shared import transcript
from stages.subtitles.cues import Word


@dataclass(frozen=True)
class Speech:
    """Speech regions in milliseconds on the media's timeline, sorted and disjoint."""

    regions: tuple[tuple[int, int], ...]
    _ends: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ends", tuple(end for _, end in self.regions))

    @classmethod
    def of(cls, regions: list, offset: float = 0.0) -> Speech:
        """From [start, end] pairs or {"start", "end"} dicts in seconds; overlaps are joined."""
        spans = sorted((round((float(r["start"] if isinstance(r, dict) else r[0]) + offset)
                              * 1000),
                        round((float(r["end"] if isinstance(r, dict) else r[1]) + offset)
                              * 1000)) for r in regions)
        joined: list[tuple[int, int]] = []
        for start, end in spans:
            if end <= start:
                continue
            if joined and start <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(joined[-1][1], end))
            else:
                joined.append((start, end))
        return cls(tuple(joined))

    def overlapping(self, start: int, end: int) -> tuple[tuple[int, int], ...]:
        """The regions that overlap [start, end] (touching counts)."""
        first = bisect.bisect_left(self._ends, start)
        out = []
        for region in self.regions[first:]:
            if region[0] > end:
                break
            out.append(region)
        return tuple(out)

    def clip(self, word: Word) -> bool:
        """Pull the word's start and end inside the speech it overlaps (in place); whether it
        changed. A word that overlaps no speech region is left as it is (the VAD missed it)."""
        found = self.overlapping(word.start, word.end)
        if not found:
            return False
        start, end = max(word.start, found[0][0]), min(word.end, found[-1][1])
        if end <= start:
            return False
        changed = (start, end) != (word.start, word.end)
        word.start, word.end = start, end
        return changed

    def end_after(self, t: int) -> int | None:
        """The end of the speech region holding ``t`` (None: ``t`` is outside the speech)."""
        found = self.overlapping(t, t)
        return found[-1][1] if found else None


def load(path: Path | None, offset: float = 0.0) -> Speech | None:
    """The regions in the vad stage's speech_segments.json or asr's segments.json (its
    ``speech_regions``); None when the file has none (the mlx backend)."""
    if path is None:
        return None
    if Path(path).name == "speech_segments.json":
        regions = json.loads(Path(path).read_text("utf-8"))["segments"]
    else:
        regions = transcript.load_transcript(Path(path)).speech_regions
    return None if regions is None else Speech.of(regions, offset)
