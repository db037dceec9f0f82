"""The stage's data: timed words in, cues out (times in integer milliseconds), and the
report of what the input needed fixing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Word:
    text: str
    start: int  # ms
    end: int  # ms


@dataclass
class Cue:
    start: int  # ms
    end: int  # ms
    words: list[str]  # the words it shows, in order
    lines: list[str]
    speech_end: int = 0  # ms: end of the last word (a cue may linger after it)
    speech_limit: int | None = None  # ms: end of the speech region holding speech_end (the
    # linger stops there); None when no speech regions are known
    held: str | None = None  # the rule that kept it on screen past its speech (qc.json)
    lyrics: bool = False
    source_text: str | None = None  # bilingual variant: the source words under this cue
    language: str | None = None  # its segment's language (None: the track's)
    untranslated: bool = False  # a target-language cue showing its source text (qc.json)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def duration(self) -> int:
        return self.end - self.start


@dataclass
class InputReport:
    """Bad input the stage repaired or dropped (listed in qc.json)."""

    dropped_empty: list[dict[str, Any]] = field(default_factory=list)
    fixed_words: list[dict[str, Any]] = field(default_factory=list)
    clipped_words: int = 0  # word times pulled inside the speech regions
    notes: list[str] = field(default_factory=list)

    def as_dict(self, limit: int = 20) -> dict[str, Any]:
        return {"dropped_empty_cues": len(self.dropped_empty),
                "dropped_empty_examples": self.dropped_empty[:limit],
                "fixed_word_times": len(self.fixed_words),
                "fixed_word_examples": self.fixed_words[:limit],
                "clipped_to_speech": self.clipped_words,
                "notes": self.notes}


def clock(ms: int) -> str:
    """00:01:02.345"""
    ms = max(0, int(ms))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{milli:03d}"
