"""A removed repetition loop's span decoded again. Whisper sometimes falls into a loop over
real dialogue ("VS. VS. VS. ..." over 58 s of a generated film with base); the hallucination
filter (shared.hallucination) removes such a segment, and without more the speech under it
gets no text at all. Here the span of each removed loop is decoded once more with Whisper's
usual cure: every speech region under it (the vad stage's, else faster-whisper's Silero
regions, as the chunks were cut) on its own, so no 30-s window holds several lines for the
decoder to repeat; no previous text and a fresh prompt (no initial prompt, no hotwords);
temperature fallback as configured; the sequential decoder for every backend. Each region
samples from ``asr.seed`` alone (stages.asr.seeded), so the re-decode is the same in a resumed
run and in an uninterrupted one.

The new segments must pass the same filter. One that is a loop again, or no text at all,
leaves the removal as it was (the subtitles stage reports the span as unsubtitled speech);
otherwise the segments whose middle lies in the loop's span (and not inside a kept segment)
take its place. hallucinations.json's ``redecoded`` lists each span, its regions and the
outcome with the new text."""

from __future__ import annotations

import logging

from shared.hallucination import LOOP, FilterOptions, filter_segments

logger = logging.getLogger("stages.asr")

Region = tuple[float, float]
JOIN_S = 1.0  # removed loop segments closer than this are one span
# what the re-decode changes in the decoding params (Whisper's cure for a loop)
CURE = {"backend": "faster-whisper", "condition_on_previous_text": False,
        "initial_prompt": None, "hotwords": None}


def loop_spans(removed: list[dict]) -> list[dict]:
    """The spans of the removed loops (kind "loop"), in time order, segments closer than
    JOIN_S merged: {"start", "end", "language"} (the language the loop was decoded in)."""
    spans: list[dict] = []
    loops = sorted((item["segment"] for item in removed if item.get("kind") == LOOP),
                   key=lambda segment: float(segment["start"]))
    for segment in loops:
        start, end = float(segment["start"]), float(segment["end"])
        if spans and start - spans[-1]["end"] < JOIN_S and \
                spans[-1]["language"] == segment.get("language"):
            spans[-1]["end"] = max(spans[-1]["end"], end)
        else:
            spans.append({"start": start, "end": end, "language": segment.get("language")})
    return spans


def regions_under(span: dict, regions: list[Region]) -> list[Region]:
    """The speech regions that overlap the span, whole, in time order."""
    return sorted((s, e) for s, e in regions if e > span["start"] and s < span["end"])


def _middle(segment: dict) -> float:
    return (float(segment["start"]) + float(segment["end"])) / 2


def taking_place(span: dict, found: list[dict], kept: list[dict]) -> list[dict]:
    """The new segments that stand for the loop: their middle in its span and in no kept
    segment (a region under the span's edge holds text the first decode kept)."""
    return [s for s in found if span["start"] <= _middle(s) <= span["end"]
            and not any(float(k["start"]) <= _middle(s) <= float(k["end"]) for k in kept)]


def outcome(span: dict, found: list[dict], kept: list[dict], speech: list[Region] | None,
            options: FilterOptions) -> tuple[str, list[dict], list[dict]]:
    """("replaced", the segments that take the loop's place, the filter's removals) or
    ("looped again" | "no text", [], removals): the re-decode judged by the same filter."""
    report = filter_segments(found, speech, options)
    if any(item.get("kind") == LOOP for item in report.removed):
        return "looped again", [], report.removed
    new = taking_place(span, report.kept, kept)
    return ("replaced" if new else "no text"), new, report.removed


def redecode_loops(model, audio, params, removed: list[dict], kept: list[dict],
                   regions: list[Region], speech: list[Region] | None,
                   options: FilterOptions, result: dict) -> tuple[list[dict], list[dict]]:
    """Every removed loop's span decoded again, region by region. Returns the segments to
    keep (``kept`` and the accepted new ones, in time order, not yet renumbered) and the
    rows for hallucinations.json's ``redecoded``."""
    from stages.asr.decode import _record, _whisper, decode_chunk

    whisper = _whisper(model)
    cure = params.model_copy(update=CURE)
    rows, added = [], []
    for span in loop_spans(removed):
        under = regions_under(span, regions)
        found = [_record(0, segment, span["language"]) for region in under
                 for segment in decode_chunk(whisper, audio, cure, ([[region]],
                                                                     span["language"]), result)]
        verdict, new, dropped = outcome(span, found, kept, speech, options)
        added += new
        rows.append({"start": span["start"], "end": span["end"], "language": span["language"],
                     "regions": [list(r) for r in under], "outcome": verdict,
                     "text": " ".join(s["text"] for s in new),
                     "decoded": [s["text"] for s in found],
                     "removed": [{"text": i["segment"]["text"], "reason": i["reason"]}
                                 for i in dropped]})
        _log(rows[-1], len(new))
    return sorted(kept + added, key=lambda s: float(s["start"])), rows


def _log(row: dict, count: int) -> None:
    where = f"{row['start']:.1f}-{row['end']:.1f} s"
    if row["outcome"] == "replaced":
        logger.warning("the removed loop at %s decoded again (%d speech region(s), each alone, "
                       "no previous text): %d segment(s) in its place: %r", where,
                       len(row["regions"]), count, row["text"][:80])
    else:
        logger.warning("the removed loop at %s decoded again (%d speech region(s)): %s; the "
                       "span stays without text", where, len(row["regions"]), row["outcome"])
