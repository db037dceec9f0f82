"""The per-chunk language check of -s auto. The detection windows sample the film, so a short
stretch of another language that shares a window with the main one (5 s of espeak French
closing a 2:52 English film: the last window still said en 0.88) is decoded in the job's
language, where Whisper writes nothing or gibberish ("PUSHWAMI MAMI", avg log-probability
-0.92 against -0.1 to -0.35 for the English lines). After each chunk is decoded, every speech
region of it (2 s or more) that got no text, or only doubtful text (under
asr.language_check_logprob), has its own language detected: one encoder pass over that
region alone, so a chunk whose text is all confident costs nothing more. When another
language is confidently detected (asr.language_switch_probability) the region is decoded
again in it: confident text there replaces the first; otherwise the first is kept and the
region is a degraded reason naming its time and both languages (base hears espeak French
as Thai, p=0.82, and writes Thai gibberish at -0.56). A region whose doubtful text the
detection neither confirms nor confidently places elsewhere is "unconfirmed": kept and a
degraded reason too. Each check is recorded in segments.json's
``language_detection.rechecks``; the subtitles stage flags the cues over a doubtful or
unconfirmed region (qc.json ``doubtful_language``). A language the user set gets the same
check in a form of its own (set_language_check): its text is never replaced, only doubted."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from shared.model_registry import better_model_fix

logger = logging.getLogger("stages.asr")

Region = tuple[float, float]
# outcomes whose first text is kept, and doubted ("contradicted": a language the user set)
DOUBTFUL = ("doubtful", "unconfirmed", "contradicted")


def _overlap(segment, region: Region) -> float:
    return min(float(segment.end), region[1]) - max(float(segment.start), region[0])


def _mostly_in(segment, region: Region) -> bool:
    """More than half of the segment lies in the region (a segment may span several)."""
    return _overlap(segment, region) > (float(segment.end) - float(segment.start)) / 2


def doubtful_regions(regions: list[Region], segments: list, min_logprob: float,
                     min_s: float) -> list[Region]:
    """The regions of at least ``min_s`` seconds that no segment overlaps, or whose
    overlapping segments have a mean log-probability (segment_logprob) under ``min_logprob``."""
    found = []
    for start, end in regions:
        if end - start < min_s:
            continue
        inside = [s for s in segments if _overlap(s, (start, end)) > 0]
        if not inside or mean_logprob(inside) < min_logprob:
            found.append((start, end))
    return found


def segment_logprob(segment) -> float:
    """How sure the decoder was of this segment's own text: the mean log-probability of its
    words. faster-whisper's ``avg_logprob`` is its whole 30-s window's, so a hallucinated
    line shares a window's good score with the lines around it (espeak Spanish at the end
    of an English film: words -0.74 and -0.56, the window -0.69 and -0.25; English lines
    -0.02 to -0.17). Without word times, the window's."""
    words = [w for w in (getattr(segment, "words", None) or []) if w.probability is not None]
    if not words:
        return float(segment.avg_logprob)
    return sum(math.log(max(float(w.probability), 1e-6)) for w in words) / len(words)


def mean_logprob(segments: list) -> float:
    """The segments' mean log-probability (segment_logprob; -inf for none: no text at all)."""
    if not segments:
        return float("-inf")
    return sum(segment_logprob(s) for s in segments) / len(segments)


def verdict(language: str, detected: str, probability: float, again: float, params,
            wrote_text: bool = True) -> str:
    """What a doubtful region becomes: "same" (its detected language is the job's, or not
    confidently another and the first decode wrote nothing there), "switched" (decoded again
    in the detected language with confident text: ``again`` is that decode's mean
    log-probability), "doubtful" (neither decode is confident: the first is kept and the job
    is degraded) or "unconfirmed" (the first decode wrote doubtful text and the region's own
    detection says neither the job's language nor another with confidence: 5 s more of
    espeak French gave "If you have any questions, please let me know in the comments
    below." at -1.10 and detected 'ms' p=0.26; kept, and the job is degraded)."""
    if detected == language:
        return "same"
    if probability < params.language_switch_probability:
        return "unconfirmed" if wrote_text else "same"
    return "switched" if again >= params.language_check_logprob else "doubtful"


def checked_chunk(model, audio, params, chunk, result: dict) -> Iterator[tuple]:
    """chunk -> (faster-whisper segment, its language) in time order: the chunk decoded in
    its language, its doubtful regions in their own when that gives confident text: -s auto
    with asr.language_check on. A language the user set keeps its text; its doubtful
    regions are checked (set_language_check) and doubted, never replaced."""
    from stages.asr.decode import MIN_DETECT_S, JoinedSpeech, _detect, decode_chunk

    groups, language = chunk
    segments = list(decode_chunk(model, audio, params, chunk, result))
    if params.language is not None and params.language_check and language is not None:
        set_language_check(model, audio, params, groups, segments, result)
    if params.language is not None or not params.language_check or language is None:
        yield from ((s, language) for s in segments)
        return
    regions = [region for group in groups for region in group]
    allowed = result.get("multilingual", {}).get("candidates", params.language_candidates)
    replaced: dict[Region, tuple[str, list]] = {}
    for start, end in doubtful_regions(regions, segments, params.language_check_logprob,
                                       MIN_DETECT_S):
        detected, probability, _ = _detect(
            model, JoinedSpeech(audio, [[(start, end)]]).audio, allowed, result)
        first = [s for s in segments if _overlap(s, (start, end)) > 0]
        again = [] if verdict(language, detected, probability, 0.0, params, bool(first)) in \
            ("same", "unconfirmed") else \
            list(decode_chunk(model, audio, params, ([[(start, end)]], detected), result))
        outcome = verdict(language, detected, probability, mean_logprob(again), params,
                          bool(first))
        _record(result, (start, end), language, detected, probability, first, again, outcome)
        if outcome == "switched":
            replaced[(start, end)] = (detected, again)
    kept = [(s, language) for s in segments
            if not any(_mostly_in(s, region) for region in replaced)]
    switched = [(s, lang) for lang, found in replaced.values() for s in found]
    yield from sorted(kept + switched, key=lambda item: float(item[0].start))


def set_verdict(language: str, detected: str, probability: float, params,
                wrote_text: bool) -> str:
    """What a doubtful region of a language the user set becomes (its text is never
    replaced: the user said what is spoken): "same" (its own detection hears the set
    language, or hears nothing with confidence where nothing was written), "contradicted"
    (it confidently hears another) or "unconfirmed" (doubtful text, nothing confident)."""
    from stages.asr.verify import alike

    if alike(detected, language):
        return "same"
    if probability >= params.language_switch_probability:
        return "contradicted"
    return "unconfirmed" if wrote_text else "same"


def set_language_check(model, audio, params, groups, segments: list, result: dict) -> None:
    """A language the user set (-s en), checked where its text is doubtful: the per-chunk
    check (stages.asr.verify) hears each window of ~30 s, so a short scene in another
    language inside one (12 s of espeak Hindi among English lines: the window still said en
    0.79) is decoded as the set language into gibberish ("Mackelsober Billy Jarrahafu",
    word log-probabilities -0.78 to -1.46) and nothing said so. Every region of 2 s or more
    with no confident text gets a detection of its own (one encoder pass); its text is kept
    and, unless the detection hears the set language, doubted (recorded in ``rechecks``,
    a degraded reason, its cues flagged). Only where the set language is checked at all
    (not for the model's weak languages, asr.language_verify); a region inside a window
    the per-chunk check already hears in another language is left to that check."""
    from stages.asr.decode import MIN_DETECT_S, JoinedSpeech, _detect
    from stages.asr.verify import contradicting

    detection = result.get("language_detection") or {}
    verification = detection.get("verification")
    if not verification:
        return
    language = verification["language"]
    heard = [(w["start"], w["end"]) for w in
             contradicting(detection.get("windows", []), language, params)]
    regions = [region for group in groups for region in group]
    for start, end in doubtful_regions(regions, segments, params.language_check_logprob,
                                       MIN_DETECT_S):
        if any(a < end and b > start for a, b in heard):
            continue
        first = [s for s in segments if _overlap(s, (start, end)) > 0]
        if not first:
            continue  # no text: nothing untrue was written (coverage names unsubtitled speech)
        detected, probability, _ = _detect(
            model, JoinedSpeech(audio, [[(start, end)]]).audio, None, result)
        _record(result, (start, end), language, detected, probability, first, [],
                set_verdict(language, detected, probability, params, True))


def _record(result: dict, region: Region, language: str, detected: str, probability: float,
            first: list, again: list, outcome: str) -> None:
    """One check in segments.json (and the log when it matters)."""
    def logprob(found: list) -> float | None:
        return round(mean_logprob(found), 3) if found else None

    row = {"start": region[0], "end": region[1], "decoded_as": language,
           "logprob": logprob(first), "detected": detected, "probability": probability,
           "outcome": outcome}
    if again:
        row["logprob_detected"] = logprob(again)
    result["language_detection"].setdefault("rechecks", []).append(row)
    if outcome != "same":
        logger.warning("%.1f-%.1f s: decoded as '%s' it gave no confident text; detected '%s' "
                       "(p=%.2f) there: %s", region[0], region[1], language, detected,
                       probability, {"switched": "decoded in it", "doubtful": "decoded in "
                                     "it, no more confident: the first text is kept",
                                     "unconfirmed": "not confidently: the doubtful text is "
                                     "kept", "contradicted": "the language the job sets is "
                                     "kept, its text doubted"}[outcome])


def degraded_reasons(result: dict, fix: str) -> list[str]:
    """One sentence per region the check left doubtful (for StageOutcome.degraded)."""
    from shared.clock import short_clock

    return [f"{row['end'] - row['start']:.1f} s of speech at {short_clock(row['start'])} "
            f"({row['start']:.1f}-{row['end']:.1f} s) may not be '{row['decoded_as']}': "
            + (f"Whisper detected '{row['detected']}' there (p={row['probability']:.2f}) but "
               "decoded it with confidence in neither" if row["outcome"] == "doubtful" else
               f"it sounds like '{row['detected']}' (p={row['probability']:.2f}) and its text "
               f"is doubtful (mean log-probability {row['logprob']}): decoded as the job's "
               f"'{row['decoded_as']}' it may be invented text or a translation"
               if row["outcome"] == "contradicted" else
               f"its text there is doubtful (mean log-probability {row['logprob']}) and "
               f"its language unconfirmed (detected '{row['detected']}', "
               f"p={row['probability']:.2f})") + f"; fix: {_fix(row, fix)}"
            for row in result.get("language_detection", {}).get("rechecks", [])
            if row["outcome"] in DOUBTFUL]


def _fix(row: dict, fix: str) -> str:
    """A contradicted region (a language the user set) is fixed by letting each region be
    decoded in its own language; the others by listening and a model that hears more."""
    if row["outcome"] != "contradicted":
        return fix
    pair = f'["{row["decoded_as"]}", "{row["detected"]}"]'
    return (f"prepare the job with -s auto, which decodes each region in its own language "
            f"(--set asr.language_candidates='{pair}' to choose between the two); or {fix}")


def recheck_fix(language: str, model: str | None) -> str:
    """The fix of a doubtful region: listen, and a model that hears more."""
    return ("listen there; a larger model knows more languages and accents: "
            f"{better_model_fix(language, model)}")
