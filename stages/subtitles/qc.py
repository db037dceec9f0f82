"""The quality report: every rule, how many cues broke it before the stage's work (the input
segments as they came) and after it, the worst offenders with timestamps, and why what is
left could not be fixed automatically; the cues a rule kept on screen past their speech;
the cues of a target track that show their source text (lines the translation left
untranslated, allowed by translation.allow_untranslated); and the speech no cue is on screen
for (stretches of the speech regions longer than ``unsubtitled_speech_s``: the job ends
degraded, see ``unsubtitled_reason``)."""

from __future__ import annotations

import logging
from typing import Any

from shared.clock import short_clock
from shared.subtitle_text import graphemes
from stages.subtitles.cues import Cue, InputReport, clock
from stages.subtitles.speech import Speech
from stages.subtitles.style import StyleProfile
from stages.subtitles.timing import Timing

logger = logging.getLogger(__name__)

WORST = 5

WHY_LEFT = {
    "max_lines": "a single word or name too long to fit the lines",
    "max_chars_per_line": "a single word longer than a line",
    "max_cps": "the cue already shows for all of its speech and the gaps around it: the "
               "words are spoken faster than the limit; an editor must condense the text",
    "min_duration": "the next cue starts too soon to show this one longer",
    "max_duration": "a single word spoken for longer than the limit",
    "min_gap": "",
}


def cps(cue: Cue) -> float:
    return graphemes(" ".join(cue.lines)) / max(cue.duration / 1000, 1e-3)


def measure(cues: list[Cue], profile: StyleProfile, rules: Timing
            ) -> dict[str, list[tuple[int, float]]]:
    """rule -> (cue index, measured value) for every cue that breaks it."""
    found: dict[str, list[tuple[int, float]]] = {rule: [] for rule in WHY_LEFT}
    for i, cue in enumerate(cues):
        if len(cue.lines) > profile.max_lines:
            found["max_lines"].append((i, len(cue.lines)))
        widest = max((graphemes(line) for line in cue.lines), default=0)
        if widest > profile.max_chars_per_line:
            found["max_chars_per_line"].append((i, widest))
        if cps(cue) > profile.max_cps + 1e-9:
            found["max_cps"].append((i, round(cps(cue), 2)))
        if cue.duration < rules.min_duration:
            found["min_duration"].append((i, cue.duration / 1000))
        if cue.duration > rules.max_duration:
            found["max_duration"].append((i, cue.duration / 1000))
        if i + 1 < len(cues) and cues[i + 1].start - cue.end < rules.gap:
            found["min_gap"].append((i, (cues[i + 1].start - cue.end) / 1000))
    return found


def _limit(rule: str, profile: StyleProfile, rules: Timing) -> float:
    return {"max_lines": profile.max_lines, "max_chars_per_line": profile.max_chars_per_line,
            "max_cps": profile.max_cps, "min_duration": rules.min_duration / 1000,
            "max_duration": rules.max_duration / 1000, "min_gap": rules.gap / 1000}[rule]


def report(before: list[Cue], after: list[Cue], profile: StyleProfile, rules: Timing,
           language: str, inputs: InputReport) -> dict[str, Any]:
    was, now = measure(before, profile, rules), measure(after, profile, rules)
    table = {}
    for rule, hits in now.items():
        lower_is_worse = rule in ("min_duration", "min_gap")
        worst = sorted(hits, key=lambda h: h[1], reverse=not lower_is_worse)[:WORST]
        table[rule] = {
            "limit": _limit(rule, profile, rules), "before": len(was[rule]), "after": len(hits),
            "cues": [i + 1 for i, _ in hits],
            "worst": [{"cue": i + 1, "start": clock(after[i].start), "end": clock(after[i].end),
                       "value": value, "text": " / ".join(after[i].lines)}
                      for i, value in worst],
            "why_left": WHY_LEFT[rule] if hits else None,
        }
    return {"language": language, "cues": len(after), "input_segments": len(before),
            "frame_rate": rules.fps, "profile": profile.model_dump(),
            "timing_ms": {"min_gap": rules.gap, "close_gap": rules.close,
                          "min_duration": rules.min_duration,
                          "max_duration": rules.max_duration, "linger": rules.linger},
            "rules": table, "input": inputs.as_dict(), "untranslated": untranslated(after),
            "held_past_speech": held_past_speech(after),
            "ok": not any(now.values()) and not any(c.untranslated for c in after)}


def untranslated(cues: list[Cue]) -> dict[str, Any]:
    """The cues marked untranslated: how many, and each (number, times, text)."""
    marked = [{"cue": i + 1, "start": clock(c.start), "end": clock(c.end),
               "text": " / ".join(c.lines), "untranslated": True}
              for i, c in enumerate(cues) if c.untranslated]
    return {"count": len(marked), "cues": marked}


def held_past_speech(cues: list[Cue]) -> dict[str, Any]:
    """The cues a rule kept on screen beyond their speech (and its linger): how many, how
    many per rule (min_duration, max_cps: the reading speed, close_gap: a gap that would
    flicker), and each with its speech's end and the seconds it stays past it."""
    rows = [{"cue": i + 1, "start": clock(c.start), "end": clock(c.end),
             "speech_end": clock(c.speech_end), "past_speech_s": (c.end - c.speech_end) / 1000,
             "reason": c.held} for i, c in enumerate(cues) if c.held]
    by_reason: dict[str, int] = {}
    for row in rows:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + 1
    return {"count": len(rows), "by_reason": by_reason, "cues": rows}


def uncovered(regions: tuple[tuple[int, int], ...], shown: list[tuple[int, int]]
              ) -> list[tuple[int, int]]:
    """The parts of ``regions`` (sorted, disjoint, ms) that no span of ``shown`` covers."""
    shown = sorted(shown)
    out: list[tuple[int, int]] = []
    first = 0
    for start, end in regions:
        while first < len(shown) and shown[first][1] <= start:
            first += 1
        at = start
        for cue_start, cue_end in shown[first:]:
            if cue_start >= end:
                break
            if cue_start > at:
                out.append((at, cue_start))
            at = max(at, cue_end)
        if at < end:
            out.append((at, end))
    return out


def unsubtitled_speech(cues: list[Cue], speech: Speech | None, min_s: float
                       ) -> dict[str, Any]:
    """The stretches of speech (the VAD's regions) with no cue on screen, each longer than
    ``min_s`` seconds: speech the transcript left out (another language decoded as the job's,
    words the model could not hear). Not checked without speech regions or with min_s 0."""
    if speech is None or min_s <= 0:
        return {"checked": False, "min_s": min_s, "count": 0, "total_s": 0.0, "spans": []}
    gaps = [(s, e) for s, e in uncovered(speech.regions, [(c.start, c.end) for c in cues])
            if e - s > min_s * 1000]
    return {"checked": True, "min_s": min_s, "count": len(gaps),
            "total_s": round(sum(e - s for s, e in gaps) / 1000, 3),
            "spans": [{"start": clock(s), "end": clock(e), "start_s": s / 1000,
                       "length_s": round((e - s) / 1000, 3)} for s, e in gaps]}


def unsubtitled_reason(found: dict[str, Any], fix: str) -> str | None:
    """The degraded sentence for unsubtitled_speech's spans ("5.1 s of speech at 2:47 has no
    subtitle"), the longest three named; None when there are none."""
    spans = found["spans"]
    if not spans:
        return None
    named = ", ".join(f"{row['length_s']:.1f} s at {short_clock(row['start_s'])}"
                      for row in sorted(spans, key=lambda r: -r["length_s"])[:3])
    if len(spans) == 1:
        what = f"{spans[0]['length_s']:.1f} s of speech at {short_clock(spans[0]['start_s'])} " \
               "has no subtitle"
    else:
        what = (f"{len(spans)} stretches of speech, {found['total_s']:.1f} s in all, have no "
                f"subtitle ({named}{', ...' if len(spans) > 3 else ''})")
    return f"{what}; fix: {fix}"


def log_summary(qc: dict[str, Any]) -> None:
    """A readable summary of the report in the stage log."""
    logger.info("QC %s: %d cues from %d segments at %.3f fps", qc["language"], qc["cues"],
                qc["input_segments"], qc["frame_rate"])
    for rule, row in qc["rules"].items():
        logger.info("  %-19s limit %-6g before %4d  after %4d", rule, row["limit"],
                    row["before"], row["after"])
        for hit in row["worst"]:
            logger.warning("  %s %s-%s (%s): %s", rule, hit["start"], hit["end"], hit["value"],
                           hit["text"])
        if row["why_left"]:
            logger.warning("  %s: %d cue(s) left: %s", rule, row["after"], row["why_left"])
    if qc["untranslated"]["count"]:
        first = qc["untranslated"]["cues"][0]
        logger.warning("%d cue(s) are untranslated: they show the source text (first: cue %d "
                       "at %s)", qc["untranslated"]["count"], first["cue"], first["start"])
    held = qc["held_past_speech"]
    if held["count"]:
        logger.info("%d cue(s) stay on past their speech for a rule: %s", held["count"],
                    ", ".join(f"{rule} {n}" for rule, n in held["by_reason"].items()))
    inputs = qc["input"]
    if inputs["clipped_to_speech"]:
        logger.info("%d word time(s) clipped to the speech regions",
                    inputs["clipped_to_speech"])
    if inputs["dropped_empty_cues"]:
        logger.warning("dropped %d segment(s) with no text (first at %s)",
                       inputs["dropped_empty_cues"], inputs["dropped_empty_examples"][0]["at"])
    if inputs["fixed_word_times"]:
        first = inputs["fixed_word_examples"][0]
        logger.warning("fixed %d word(s) with no usable time from their neighbours (first: "
                       "'%s' at %s)", inputs["fixed_word_times"], first["word"], first["at"])
    for note in inputs["notes"]:
        logger.info("note: %s", note)
    for row in qc.get("unsubtitled_speech", {}).get("spans", []):
        logger.warning("%.1f s of speech at %s-%s has no subtitle", row["length_s"],
                       row["start"], row["end"])
    for row in qc.get("unreadable", {}).get("cues", []):
        logger.warning("cue %d at %s cannot be read: %.2f s, %g characters a second",
                       row["cue"], row["start"], row["duration_s"], row["cps"])
    for row in qc.get("doubtful_language", {}).get("spans", []):
        logger.warning("%s-%s: cues %s show '%s' text of speech detected as '%s': flagged",
                       row["start"], row["end"], row["cue_numbers"], row["decoded_as"],
                       row["detected"])


def unreadable(cues: list[Cue], rules: Timing, max_cps: float) -> dict[str, Any]:
    """The cues the fixing pass left unreadable: shorter than the minimum duration (the next
    cue starts too soon; 10-ms cues come from word times that collapsed, a repetition loop or
    a failed alignment), or, longer ones, over ``max_cps`` characters per second (an extreme
    no reader keeps up with, far over the style's limit, which stays a flag only; 0: not
    checked). Each makes the job degraded (``unreadable_reason``)."""
    rows = []
    for i, cue in enumerate(cues):
        short = cue.duration < rules.min_duration
        if short or (max_cps > 0 and cps(cue) > max_cps):
            rows.append({"cue": i + 1, "start": clock(cue.start), "end": clock(cue.end),
                         "start_s": cue.start / 1000, "duration_s": cue.duration / 1000,
                         "cps": round(cps(cue), 1), "why": "min_duration" if short else
                         "max_cps", "text": " / ".join(cue.lines)})
    return {"min_duration_s": rules.min_duration / 1000, "max_cps": max_cps,
            "count": len(rows), "cues": rows}


def unreadable_reason(found: dict[str, Any], fix: str) -> str | None:
    """The degraded sentence for ``unreadable``'s cues, the first three named with time."""
    rows = found["cues"]
    if not rows:
        return None

    def one(row: dict[str, Any]) -> str:
        what = (f"shows for {row['duration_s']:.2f} s" if row["why"] == "min_duration"
                else f"needs {row['cps']:g} characters a second")
        return f"cue {row['cue']} at {short_clock(row['start_s'])} {what}"

    named = "; ".join(one(row) for row in rows[:3]) + ("; ..." if len(rows) > 3 else "")
    limits = (f"minimum {found['min_duration_s']:g} s" + (
        f", most {found['max_cps']:g} characters a second" if found["max_cps"] else ""))
    count = "1 cue cannot" if len(rows) == 1 else f"{len(rows)} cues cannot"
    return f"{count} be read ({limits}): {named}; fix: {fix}"


def _over(cues: list[Cue], windows: list[tuple[int, int]]) -> list[int]:
    """Numbers (from 1) of the cues that overlap any of ``windows`` (ms)."""
    return [i + 1 for i, c in enumerate(cues)
            if any(c.start < end and c.end > start for start, end in windows)]


def doubtful_language(cues: list[Cue], checks: list[dict[str, Any]], offset: float,
                      lines: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    """The cues that overlap a region asr's per-chunk language check left doubtful
    (segments.json ``language_detection.rechecks`` with outcome "doubtful": Whisper detected
    another language there but decoded it with confidence in neither): their text may be
    gibberish in the track's language. Each cue is flagged with the region and what was
    detected; the text is kept (see ARCHITECTURE, "Doubtful language"). ``lines``: a target
    track's lines' times (their source segments', s): a line whose segment overlaps the
    region is a translation of doubtful text, so each of its cues is flagged."""
    spans = []
    for row in checks:
        if row.get("outcome") not in ("doubtful", "unconfirmed", "contradicted"):  # DOUBTFUL
            continue
        start, end = round((row["start"] + offset) * 1000), round((row["end"] + offset) * 1000)
        windows = [(start, end)] + [
            (round((a + offset) * 1000), round((b + offset) * 1000)) for a, b in lines or []
            if round((a + offset) * 1000) < end and round((b + offset) * 1000) > start]
        numbers = _over(cues, windows)
        spans.append({"start": clock(start), "end": clock(end), "start_s": start / 1000,
                      "length_s": round((end - start) / 1000, 3),
                      "decoded_as": row.get("decoded_as"), "detected": row.get("detected"),
                      "probability": row.get("probability"), "cue_numbers": numbers})
    flagged = [{"cue": n, "start": clock(cues[n - 1].start), "end": clock(cues[n - 1].end),
                "text": " / ".join(cues[n - 1].lines), "span": f"{s['start']}-{s['end']}",
                "detected": s["detected"]} for s in spans for n in s["cue_numbers"]]
    return {"count": len(flagged), "spans": spans, "cues": flagged}


def doubtful_reason(found: dict[str, Any], fix: str) -> str | None:
    """The degraded sentence naming each doubtful span and its flagged cues."""
    spans = [span for span in found["spans"] if span["cue_numbers"]]  # no cue: asr names it
    if not spans:
        return None
    parts = []
    for span in spans:
        numbers = span["cue_numbers"]
        cues_named = f"cues {numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else \
            f"cue {numbers[0]}"
        verb = "show" if len(numbers) > 1 else "shows"
        parts.append(f"{cues_named} at {short_clock(span['start_s'])} ({span['length_s']:.1f} "
                     f"s) {verb} Whisper's '{span['decoded_as']}' text of speech it detected "
                     f"as '{span['detected']}' (p={span['probability']:.2f})")
    return (f"{'; '.join(parts)}: flagged doubtful_language in qc.json, the text may be "
            f"gibberish; fix: {fix}")
