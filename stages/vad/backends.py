"""What both speech scorers of the vad stage return, and how a block's result lands on the
file's timeline. The scorers live in their own modules because they run in different venvs:
silero.py (whisperx venv), pyannote_vad.py (pyannote venv). Each turns one block of 16 kHz
mono samples into frame speech probabilities and the regions its own library's hysteresis
finds in them (onset/offset only: the duration rules are applied once, over the whole file,
in regions.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stages.vad.regions import Region

if TYPE_CHECKING:
    import numpy as np


@dataclass
class BlockScores:
    """One block's result, in seconds from the block's first sample."""

    regions: list[tuple[float, float]]
    scores: np.ndarray  # per-frame speech probability
    first_centre: float  # centre of frame 0
    step: float  # seconds between frame centres


def core_regions(result: BlockScores, block_start: float, core_start: float,
                 core_end: float) -> list[Region]:
    """The block's regions on the file's timeline, clipped to its core, each with the sum
    and count of the frame probabilities whose centres fall inside it."""
    regions = []
    for start, end in result.regions:
        start, end = max(start + block_start, core_start), min(end + block_start, core_end)
        if end <= start:
            continue
        first = max(0, math.ceil((start - block_start - result.first_centre) / result.step))
        last = max(first, math.ceil((end - block_start - result.first_centre) / result.step))
        inside = result.scores[first:last]
        regions.append(Region(start, end, float(inside.sum()), int(inside.size)))
    return regions
