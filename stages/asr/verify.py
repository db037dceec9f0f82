"""A language the user set (-s ta) checked against the audio. Told the language, Whisper
writes every line in it whatever is spoken: English dialogue under -s ta comes out as a
Tamil translation or invented Tamil, in Tamil script, so neither the script check
(coverage.py) nor a reader of the file can tell. Before decoding, the -s auto detection
windows run once over the speech (a few encoder passes: nothing is decoded twice); windows
that confidently (asr.language_switch_probability) hear another language make the job
degraded, naming the language, where, and the fix (-s with that language, -s auto, or the
audio track). The decoding itself keeps the language the user set.

Skipped where the model's detection cannot be trusted for the set language (the registry
lists it among the model's weak languages: base hears espeak Hindi as Latin or Japanese) and
with asr.language_verify=false. Hindi and Urdu are one spoken language to Whisper (it names
Hindustani speech by either), so one never contradicts the other. The check is recorded in
segments.json's ``language_detection.verification``."""

from __future__ import annotations

import logging

logger = logging.getLogger("stages.asr")

ALIKE = ({"hi", "ur"},)  # spoken alike; Whisper names the same speech by either
MAJORITY = 0.5  # this share of the sampled speech in another language: the job's is wrong


def alike(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in ALIKE)


def check_set_language(model, audio, params, regions, result: dict) -> None:
    """The detection windows over ``regions``, judged against ``params.language``."""
    from shared.model_registry import load_models
    from stages.asr.decode import window_languages

    language = params.language
    entry = load_models().models.get(params.model or "")
    weak = entry is not None and language in entry.weak_languages
    if not params.language_verify or weak:
        if weak:
            logger.info("the spoken language is not checked: %s does not know '%s' well "
                        "enough to tell it from others", params.model, language)
        return
    result["language_detection"] = {"calls": 0, "windows": []}
    windows = window_languages(model, audio, params.language_detection_windows, regions,
                               None, result)
    others = [w for w in windows if not alike(w["language"], language)
              and w["probability"] >= params.language_switch_probability]
    for window in others:
        window["contradicts"] = True
    total = sum(w["speech_s"] for w in windows) or 1.0
    share = sum(w["speech_s"] for w in others) / total
    result["language_detection"]["verification"] = {
        "language": language, "windows": len(windows), "contradicting": len(others),
        "share": round(share, 3)}
    logger.info("spoken language check of '%s' over %d window(s): %s", language, len(windows),
                ", ".join(f"{w['start']:.1f}-{w['end']:.1f} s {w['language']} "
                          f"{w['probability']:.2f}" for w in windows))


def degraded_reasons(result: dict) -> list[str]:
    """The verdict of check_set_language as degraded reasons (none when it agreed)."""
    from shared.clock import short_clock

    detection = result.get("language_detection") or {}
    verdict = detection.get("verification")
    if not verdict or not verdict["contradicting"]:
        return []
    language = verdict["language"]
    others = [w for w in detection["windows"] if w.get("contradicts")]
    heard = max({w["language"] for w in others},
                key=lambda lang: sum(w["speech_s"] for w in others if w["language"] == lang))
    fix = (f"prepare the job again with -s {heard} (or -s auto), or, if the file has several "
           "audio tracks, choose the one in that language with --set demux.audio_stream=INDEX")
    if verdict["share"] >= MAJORITY:
        return [f"the speech sounds like '{heard}', not '{language}' as the job says: "
                f"{verdict['contradicting']} of {verdict['windows']} sampled windows "
                f"({verdict['share']:.0%} of their speech) detect another language; the "
                f"'{language}' subtitles may be a translation into '{language}' or invented "
                f"text; fix: {fix}"]
    return [f"{w['speech_s']:.0f} s of speech at {short_clock(w['start'])} ({w['start']:.1f}-"
            f"{w['end']:.1f} s) sounds like '{w['language']}' (p={w['probability']:.2f}), not "
            f"'{language}', and was decoded as '{language}'; fix: -s auto decodes each region "
            f"in its own language (--set asr.language_candidates='[\"{language}\", "
            f"\"{w['language']}\"]' to choose between the two)" for w in others]

