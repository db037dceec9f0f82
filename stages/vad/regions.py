"""Backend-independent speech-region arithmetic (pure Python, imports in every venv).

A long file is scored in blocks that overlap their neighbours; each block's regions are
trusted only inside its *core* (the block minus the overlap), so every kept edge was decided
with context on both sides. Clipped regions that meet at a core edge are joined, then the
film-dialogue rules apply once, over the whole file: fill short silences, drop short blips,
pad the edges. The quality check summarises the result and warns about suspicious audio.
"""

from __future__ import annotations

from dataclasses import dataclass

JOIN_TOLERANCE_S = 1e-3  # regions this close (two blocks' halves of one region) are one


@dataclass(frozen=True)
class Block:
    """Samples [read_start, read_end) are scored; results count in [core_start, core_end)."""

    read_start: int
    read_end: int
    core_start: int
    core_end: int


@dataclass
class Region:
    start: float
    end: float
    score_sum: float = 0.0  # sum of the frame speech probabilities inside the region
    frames: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def confidence(self) -> float:
        return self.score_sum / self.frames if self.frames else 0.0


def plan_blocks(total: int, block: int, overlap: int) -> list[Block]:
    """Cut ``total`` samples into cores of ``block`` samples, each read with ``overlap``
    samples of context on both sides (clipped at the file's ends)."""
    if total <= 0:
        return []
    blocks = []
    for core_start in range(0, total, block):
        core_end = min(total, core_start + block)
        blocks.append(Block(max(0, core_start - overlap), min(total, core_end + overlap),
                            core_start, core_end))
    return blocks


def join(regions: list[Region], max_gap: float) -> list[Region]:
    """Sort, and merge regions that overlap or are separated by at most ``max_gap`` s."""
    merged: list[Region] = []
    for region in sorted(regions, key=lambda r: r.start):
        if merged and region.start - merged[-1].end <= max_gap:
            last = merged[-1]
            last.end = max(last.end, region.end)
            last.score_sum += region.score_sum
            last.frames += region.frames
        else:
            merged.append(Region(region.start, region.end, region.score_sum, region.frames))
    return merged


def finalize(raw: list[Region], duration: float, *, min_silence: float, min_speech: float,
             pad: float) -> list[Region]:
    """Join the blocks' clipped regions, fill silences shorter than ``min_silence``, drop
    regions shorter than ``min_speech``, then pad each edge by ``pad`` without letting two
    regions overlap (a gap shorter than two pads is split in the middle)."""
    regions = join(raw, JOIN_TOLERANCE_S)
    regions = join(regions, min_silence)
    regions = [r for r in regions if r.duration >= min_speech]
    padded = []
    for i, region in enumerate(regions):
        start = region.start - pad
        end = region.end + pad
        if i > 0:
            start = max(start, (regions[i - 1].end + region.start) / 2)
        if i + 1 < len(regions):
            end = min(end, (region.end + regions[i + 1].start) / 2)
        padded.append(Region(max(0.0, start), min(duration, end), region.score_sum,
                             region.frames))
    return padded


def quality(regions: list[Region], duration: float, *, min_ratio: float,
            max_ratio: float) -> dict:
    """Speech seconds and ratio, region count, the longest silence (where it starts), mean
    confidence (duration-weighted) and warnings about audio that is probably not dialogue."""
    speech = sum(r.duration for r in regions)
    ratio = speech / duration if duration > 0 else 0.0
    edges = [0.0] + [t for r in regions for t in (r.start, r.end)] + [duration]
    gaps = [(edges[i + 1] - edges[i], edges[i]) for i in range(0, len(edges), 2)]
    longest, longest_at = max(gaps) if gaps else (0.0, 0.0)
    confidence = (sum(r.confidence * r.duration for r in regions) / speech) if speech else None
    warnings = []
    if duration < 0.1:
        warnings.append(f"the audio is empty ({duration:.2f} s): nothing to detect")
    elif ratio < min_ratio:
        warnings.append(
            f"almost no speech detected ({speech:.1f} s of {duration:.1f} s, {ratio:.1%}): "
            "wrong audio stream? music only? (pick another stream with --set "
            "demux.audio_stream=N, or lower vad.onset)")
    elif ratio > max_ratio:
        warnings.append(
            f"nearly everything is speech ({speech:.1f} s of {duration:.1f} s, {ratio:.1%}): "
            "noise or music taken for speech? (raise vad.onset, or isolate the vocals with "
            "--separate)")
    return {
        "speech_s": round(float(speech), 3),
        "speech_ratio": round(ratio, 4),
        "regions": len(regions),
        "longest_silence_s": round(longest, 3),
        "longest_silence_start": round(longest_at, 3),
        "mean_confidence": round(confidence, 4) if confidence is not None else None,
        "warnings": warnings,
    }
