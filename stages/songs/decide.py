"""From evidence to decisions (pure Python: runs in every venv, unit-tested in common).

Every measure becomes 0..1 by a linear ramp between two documented values (``ramp``); the
audio measures are averaged with their weights (measures that could not be taken drop out).
The singing measures alone (held notes, voicing, a tonal voice) make a second average, the
*singing* evidence. Text raises the score only as far as there is singing, never lowers it
(``combine``): repeated dialogue over a bed stays dialogue. Segments whose score reaches the
threshold and whose singing reaches ``singing_threshold`` are flagged; a soundtrack track as
long as a run of likely lyrics adds a bonus to that run first. Then songs are contiguous: a
majority vote over neighbouring segments removes isolated flips (``vote``), a run takes in
neighbours that score at least the lower ``run_threshold`` (``grow``: hysteresis), and runs
shorter than a song are dropped. Smoothing never makes a segment without singing lyrics: the
vote and the growing only take in segments that are *singing* (``singing_threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

SINGING = ("sustained", "voiced", "tonality")  # the parts that are evidence of singing


def ramp(value: float | None, bounds: Sequence[float]) -> float | None:
    """0 at bounds[0], 1 at bounds[1], linear between, clipped (reversed when low > high)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    low, high = float(bounds[0]), float(bounds[1])
    if low == high:
        return 1.0 if value >= high else 0.0
    return min(1.0, max(0.0, (value - low) / (high - low)))


def weighted(parts: dict[str, float | None], weights: dict[str, float]) -> float:
    """Weighted mean of the parts that were measured (0 when none was)."""
    used = [(weights[k], v) for k, v in parts.items() if v is not None and weights.get(k, 0) > 0]
    total = sum(w for w, _ in used)
    return sum(w * v for w, v in used) / total if total > 0 else 0.0


def audio_parts(measures: dict[str, float | None], params, separated: bool
                ) -> dict[str, float | None]:
    """Each audio measure on its 0..1 ramp (params: SongsParams), named as in the weights."""
    out = {"sustained": ramp(measures.get("sustained_ratio"), params.sustained_ratio),
           "voiced": ramp(measures.get("voiced_ratio"), params.voiced_ratio),
           "rhythm": ramp(measures.get("rhythm"), params.rhythm)}
    out["tonality"] = ramp(measures.get("flatness_db"), params.flatness_db)
    if separated:
        out["bed"] = ramp(measures.get("bed_db"), params.bed_db)
    else:
        out["continuity"] = ramp(measures.get("floor_db"), params.floor_db)
        out["harmonicity"] = ramp(measures.get("harmonicity"), params.harmonicity)
    return out


def text_score(words: int, repetition: float, params) -> float:
    """repetition_weight x repetition ramp + the rest x short-line ramp (0 without words)."""
    if words == 0:
        return 0.0
    share = params.repetition_weight
    return (share * ramp(repetition, params.repetition)
            + (1 - share) * ramp(float(words), params.short_line_words))


def singing_parts(parts: dict[str, float | None]) -> dict[str, float | None]:
    """The audio parts that hear a voice sing (held notes, voicing, a tonal voice), not the
    music around it; in either mode."""
    return {k: parts.get(k) for k in SINGING}


def combine(audio: float, text: float, text_weight: float, singing: float = 1.0) -> float:
    """Text evidence moves the audio score towards 1 by ``text_weight`` x text x singing: a
    repeated sung line becomes surer, repeated words that are not sung gain nothing (a film's
    recurring dialogue is no refrain), and a verse that does not repeat loses nothing."""
    return audio + text_weight * text * singing * (1.0 - audio)


@dataclass(frozen=True)
class Span:
    start: float
    end: float


def chains(spans: Sequence[Span], keep: Sequence[bool], max_gap: float) -> list[list[int]]:
    """Runs of consecutive kept spans (in the given order) with pauses of at most max_gap."""
    runs: list[list[int]] = []
    previous = None
    for i, (span, kept) in enumerate(zip(spans, keep, strict=True)):
        if not kept:
            previous = None
            continue
        if previous is not None and span.start - spans[previous].end <= max_gap:
            runs[-1].append(i)
        else:
            runs.append([i])
        previous = i
    return runs


def vote(flags: Sequence[bool], spans: Sequence[Span], neighbours: int,
         max_gap: float) -> list[bool]:
    """Majority of each segment and up to ``neighbours`` segments either side (stopping at a
    pause longer than max_gap); a tie keeps the segment's own flag."""
    out = []
    for i, own in enumerate(flags):
        window = [own]
        for step in (-1, 1):
            j = i
            for _ in range(neighbours):
                k = j + step
                if not 0 <= k < len(flags):
                    break
                gap = (spans[max(j, k)].start - spans[min(j, k)].end)
                if gap > max_gap:
                    break
                window.append(flags[k])
                j = k
        yes = sum(window)
        out.append(own if 2 * yes == len(window) else 2 * yes > len(window))
    return out


def grow(flags: Sequence[bool], scores: Sequence[float], spans: Sequence[Span], low: float,
         max_gap: float, eligible: Sequence[bool] | None = None) -> list[bool]:
    """Hysteresis: a run of flagged segments takes in its neighbours (within max_gap) while
    their score reaches ``low`` (a song's first line, over a quiet intro, scores less) and
    they are ``eligible`` (sung; all by default)."""
    out = list(flags)
    eligible = [True] * len(out) if eligible is None else eligible
    changed = True
    while changed:
        changed = False
        for i in range(len(out)):
            if out[i] or not eligible[i]:
                continue
            for k in (i - 1, i + 1):
                if 0 <= k < len(out) and out[k] and scores[i] >= low and \
                        spans[max(i, k)].start - spans[min(i, k)].end <= max_gap:
                    out[i] = changed = True
                    break
    return out


def match_track(duration: float, tracks: Sequence[dict], bounds: Sequence[float],
                taken: set[int] = frozenset()) -> int | None:
    """Index of the track whose length x bounds holds ``duration``, the closest in ratio
    (tracks already matched come last)."""
    best = None
    for n, track in enumerate(tracks):
        length = track.get("length_s")
        if not length or length <= 0:
            continue
        if not bounds[0] * length <= duration <= bounds[1] * length:
            continue
        rank = (n in taken, abs(math.log(duration / length)))
        if best is None or rank < best[0]:
            best = (rank, n)
    return None if best is None else best[1]


def soundtrack_support(scores: Sequence[float], spans: Sequence[Span], tracks: Sequence[dict],
                       run_threshold: float, max_gap: float, bounds: Sequence[float],
                       bonus: float, eligible: Sequence[bool] | None = None) -> list[float]:
    """The bonus each segment gets because its run of likely lyrics (scoring at least
    run_threshold and ``eligible``: sung; all by default) is as long as a track."""
    out = [0.0] * len(scores)
    if not tracks or bonus <= 0:
        return out
    eligible = [True] * len(scores) if eligible is None else eligible
    likely = [s >= run_threshold and ok for s, ok in zip(scores, eligible, strict=True)]
    for run in chains(spans, likely, max_gap):
        duration = spans[run[-1]].end - spans[run[0]].start
        if match_track(duration, tracks, bounds) is not None:
            for i in run:
                out[i] = bonus
    return out


@dataclass
class Song:
    indexes: list[int]
    start: float
    end: float
    score: float
    track: int | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Decision:
    raw: list[bool]  # score >= threshold (and singing >= singing_threshold)
    voted: list[bool]  # after the majority vote and growing the runs (hysteresis), sung
    lyrics: list[bool]  # final: sung and inside a song region
    songs: list[Song] = field(default_factory=list)
    dropped: list[Song] = field(default_factory=list)  # regions too short to be a song


def decide(scores: Sequence[float], spans: Sequence[Span], *, threshold: float,
           neighbours: int, max_gap: float, min_song_s: float, min_segments: int,
           grow_threshold: float = 1.0, tracks: Sequence[dict] = (),
           track_bounds: Sequence[float] = (0.4, 1.25),
           singing: Sequence[float] | None = None,
           singing_threshold: float = 0.0) -> Decision:
    """Flags, smoothing and song regions for segments in time order. With ``singing`` (the
    singing evidence per segment) only segments reaching ``singing_threshold`` can be
    lyrics, before smoothing and after it: the vote may bridge a spoken line inside a song
    (the song stays one region) but that line is no lyrics, and growing never takes in
    dialogue next to a song. A region's extent and length are its sung segments'."""
    sung = [True] * len(scores) if singing is None else \
        [s >= singing_threshold for s in singing]
    raw = [s >= threshold and ok for s, ok in zip(scores, sung, strict=True)]
    smoothed = grow(vote(raw, spans, neighbours, max_gap), scores, spans, grow_threshold,
                    max_gap, sung)
    voted = [v and ok for v, ok in zip(smoothed, sung, strict=True)]
    lyrics = [False] * len(scores)
    songs, dropped, taken = [], [], set()
    for region in chains(spans, smoothed, max_gap):
        run = [i for i in region if sung[i]]
        if not run:
            continue
        song = Song(run, spans[run[0]].start, spans[run[-1]].end,
                    sum(scores[i] for i in run) / len(run))
        if song.duration < min_song_s or len(run) < min_segments:
            dropped.append(song)
            continue
        song.track = match_track(song.duration, tracks, track_bounds, taken)
        if song.track is not None:
            taken.add(song.track)
        songs.append(song)
        for i in run:
            lyrics[i] = True
    return Decision(raw, voted, lyrics, songs, dropped)
