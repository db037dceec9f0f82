"""The songs stage's work, in the whisperx venv: measure each segment's audio (per range,
streamed), add the text and soundtrack evidence, decide, write segments.json (the input with
``lyrics`` and ``song_score`` per segment) and songs.json (regions, evidence, thresholds)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared import atomic, transcript
from shared.fingerprint import params_part
from shared.stage import StageOutcome, StageRequest, report_progress
from shared.transcript import Segment, Transcript
from stages.songs import SongsParams
from stages.songs.decide import (
    Span,
    audio_parts,
    combine,
    decide,
    singing_parts,
    soundtrack_support,
    text_score,
    weighted,
)
from stages.songs.text import repetition

logger = logging.getLogger("stages.songs")

THRESHOLD_FIELDS = ("threshold", "text_weight", "singing_threshold", "singing_weights",
                    "bed_db", "voiced_ratio", "sustained_ratio", "flatness_db", "floor_db",
                    "harmonicity", "rhythm", "repetition", "short_line_words",
                    "repetition_weight", "neighbours", "max_gap_s", "min_song_s",
                    "min_song_segments", "soundtrack_bonus", "run_threshold",
                    "track_length_ratio")


def setup(requests: list[StageRequest]) -> None:
    """Nothing to load: no model."""
    return None


def soundtrack_tracks(path: Path | None) -> list[dict]:
    """The metadata stage's soundtrack tracks that have a length (none when not found)."""
    if path is None:
        return []
    if not path.is_file():
        logger.warning("metadata %s is missing: no soundtrack evidence", path)
        return []
    try:
        soundtrack = json.loads(path.read_text("utf-8")).get("soundtrack") or {}
    except (OSError, ValueError, AttributeError) as e:
        logger.warning("metadata %s is unreadable (%s): no soundtrack evidence", path, e)
        return []
    if not soundtrack.get("found"):
        return []
    tracks = []
    for track in soundtrack.get("tracks") or []:
        try:
            length = float(track.get("length_s") or 0)
        except (TypeError, ValueError):
            continue
        if length > 0:
            tracks.append({"position": track.get("position"), "title": track.get("title"),
                           "length_s": length})
    return tracks


def _separation(request: StageRequest) -> tuple[Path | None, Path | None]:
    vocals, backing = request.inputs.get("vocals"), request.inputs.get("accompaniment")
    present = [p for p in (vocals, backing) if p is not None and Path(p).is_file()]
    if len(present) == 2:
        return Path(vocals), Path(backing)
    if vocals is not None or backing is not None:
        logger.warning("source separation output incomplete (%s, %s): measuring the mixture",
                       vocals, backing)
    return None, None


@dataclass
class Timeline:
    """The segments in time order: ``order[k]`` is the file index of the k-th segment."""

    order: list[int]
    segments: list[Segment]
    spans: list[Span]

    @classmethod
    def of(cls, segments: list[Segment]) -> Timeline:
        order = sorted(range(len(segments)), key=lambda i: segments[i].start)
        timeline = [segments[i] for i in order]
        return cls(order, timeline, [Span(s.start, max(s.end, s.start)) for s in timeline])


@dataclass
class Scored:
    """Per timeline segment: the combined score, the singing score and songs.json's record."""

    scores: list[float] = field(default_factory=list)
    singing: list[float] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)


def _score(timeline: Timeline, evidence, params: SongsParams, weights: dict) -> Scored:
    """Measure each segment's audio and text and combine them (progress about once a second)."""
    from concurrent.futures import ThreadPoolExecutor

    texts = repetition(timeline.segments, params.ngram, params.repeat_window_s)
    out = Scored()
    last_report = 0.0
    with ThreadPoolExecutor(max(1, params.cpu_threads)) as pool:
        # each segment's measures are its own: threads change the time, not the numbers
        measured = pool.map(lambda span: evidence.measure(span.start, span.end),
                            timeline.spans)
        for n, (segment, span, text, measures) in enumerate(
                zip(timeline.segments, timeline.spans, texts, measured, strict=True), 1):
            _add(out, segment, span, text, measures, evidence, params, weights)
            if time.monotonic() - last_report > 1.0 or n == len(timeline.segments):
                report_progress(n, len(timeline.segments), "segments")
                last_report = time.monotonic()
    return out


def _add(out: Scored, segment: Segment, span: Span, text, measures: dict, evidence,
         params: SongsParams, weights: dict) -> None:
    """One segment's scores and record, from its audio measures and text evidence."""
    parts = audio_parts(measures, params, evidence.separated)
    audio = weighted(parts, weights) if measures else 0.0
    sung = weighted(singing_parts(parts), params.singing_weights) if measures else 0.0
    text_part = text_score(text.words, text.repetition, params)
    out.scores.append(combine(audio, text_part, params.text_weight, sung))
    out.singing.append(sung)
    out.records.append({
        "id": segment.id, "start": span.start, "end": span.end, "text": segment.text,
        "audio_score": round(audio, 4), "singing_score": round(sung, 4),
        "text_score": round(text_part, 4), "measures": measures,
        "parts": {k: None if v is None else round(v, 4) for k, v in parts.items()},
        "words": text.words, "repetition": text.repetition,
        "repeated": list(text.repeated)})


def _decide(timeline: Timeline, scored: Scored, tracks: list[dict], params: SongsParams):
    """The soundtrack bonus added to the scores, then the decision; scored.scores updated."""
    bonus = soundtrack_support(scored.scores, timeline.spans, tracks, params.run_threshold,
                               params.max_gap_s, params.track_length_ratio,
                               params.soundtrack_bonus,
                               [s >= params.singing_threshold for s in scored.singing])
    scored.scores = [min(1.0, s + b) for s, b in zip(scored.scores, bonus, strict=True)]
    decision = decide(scored.scores, timeline.spans, threshold=params.threshold,
                      neighbours=params.neighbours, max_gap=params.max_gap_s,
                      min_song_s=params.min_song_s, min_segments=params.min_song_segments,
                      grow_threshold=params.run_threshold, tracks=tracks,
                      track_bounds=params.track_length_ratio, singing=scored.singing,
                      singing_threshold=params.singing_threshold)
    for k, i in enumerate(timeline.order):
        scored.records[k].update(index=i, score=round(scored.scores[k], 4),
                                 soundtrack_bonus=bonus[k], above_threshold=decision.raw[k],
                                 after_smoothing=decision.voted[k], lyrics=decision.lyrics[k])
    return decision


def _flagged(source: Transcript, timeline: Timeline, decision, scores: list[float]
             ) -> Transcript:
    """The input transcript, each segment with ``lyrics`` and ``song_score`` added."""
    segments = list(source.segments)
    for k, i in enumerate(timeline.order):
        segments[i] = segments[i].model_copy(update={
            "lyrics": decision.lyrics[k], "song_score": round(scores[k], 4)})
    return source.model_copy(update={"segments": segments})


def _report(source_name: str, evidence, weights: dict, params: SongsParams,
            tracks: list[dict], timeline: Timeline, scored: Scored, decision) -> dict:
    """songs.json: the evidence, the thresholds, the songs and every segment's record."""
    def song_entry(song) -> dict:
        return {"start": round(song.start, 3), "end": round(song.end, 3),
                "duration_s": round(song.duration, 3),
                "segments": [timeline.order[k] for k in song.indexes],
                "segment_ids": [timeline.segments[k].id for k in song.indexes],
                "score": round(song.score, 4),
                "track": tracks[song.track] if song.track is not None else None}

    return {
        "mode": evidence.mode, "source": source_name, "weights": weights,
        "thresholds": {k: getattr(params, k) for k in THRESHOLD_FIELDS},
        "params": params_part(params.model_dump(mode="json")),  # not the machine's threads
        "soundtrack": {"tracks": tracks},
        "summary": {"segments": len(timeline.segments),
                    "lyrics_segments": sum(decision.lyrics),
                    "songs": len(decision.songs),
                    "lyrics_s": round(sum(s.duration for s in decision.songs), 3),
                    "above_threshold": sum(decision.raw),
                    "singing": sum(s >= params.singing_threshold for s in scored.singing),
                    "dropped_short_regions": len(decision.dropped)},
        "songs": [song_entry(s) for s in decision.songs],
        "dropped": [song_entry(s) for s in decision.dropped],
        "segments": scored.records,
    }


def _log(evidence, decision, tracks: list[dict], total: int, elapsed: float) -> None:
    lyrics_s = sum(s.duration for s in decision.songs)
    logger.info("%s evidence: %d of %d segment(s) are lyrics, in %d song(s) (%.1f s); "
                "%d above the threshold before smoothing, %d short region(s) dropped; %.1f s",
                evidence.mode, sum(decision.lyrics), total, len(decision.songs),
                lyrics_s, sum(decision.raw), len(decision.dropped), elapsed)
    for song in decision.songs:
        track = tracks[song.track] if song.track is not None else None
        logger.info("song %.1f-%.1f s (%.1f s, %d segments, score %.2f)%s", song.start,
                    song.end, song.duration, len(song.indexes), song.score,
                    f", soundtrack track {track['position']} '{track['title']}' "
                    f"({track['length_s']:.0f} s)" if track else "")


def process(request: StageRequest, state=None) -> StageOutcome:
    from stages.songs.features import Evidence

    params = request.params_as(SongsParams)
    started = time.monotonic()
    source_path = Path(request.inputs["segments"])
    source = transcript.load_transcript(source_path)
    vocals, backing = _separation(request)
    evidence = Evidence(Path(request.inputs["audio"]), vocals, backing, params)
    tracks = soundtrack_tracks(request.inputs.get("metadata"))
    weights = params.separated_weights if evidence.separated else params.mixture_weights
    timeline = Timeline.of(source.segments)
    scored = _score(timeline, evidence, params, weights)
    decision = _decide(timeline, scored, tracks, params)
    outputs = [request.output("segments.json"), request.output("songs.json")]
    transcript.save(outputs[0], _flagged(source, timeline, decision, scored.scores))
    atomic.write_json(outputs[1], _report(source_path.name, evidence, weights, params, tracks,
                                          timeline, scored, decision))
    _log(evidence, decision, tracks, len(source.segments), time.monotonic() - started)
    return StageOutcome(outputs=outputs, info={
        "mode": evidence.mode, "songs": len(decision.songs),
        "lyrics_segments": sum(decision.lyrics),
        "lyrics_s": round(sum(s.duration for s in decision.songs), 3)})
