"""The per-chunk language check of -s auto (stages/asr/recheck.py): which regions are
doubtful, what a region's detection and second decode make of it, and the degraded sentence,
from the figures measured on a 2:52 English film closing with 5 s of espeak French (base);
and its form for a language the user set (espeak Hindi under -s en)."""

from __future__ import annotations

from types import SimpleNamespace

from stages.asr import AsrParams
from stages.asr.recheck import (
    degraded_reasons,
    doubtful_regions,
    mean_logprob,
    set_verdict,
    verdict,
)


def seg(start: float, end: float, logprob: float) -> SimpleNamespace:
    return SimpleNamespace(start=start, end=end, avg_logprob=logprob)


PARAMS = AsrParams()


def test_a_region_with_no_text_or_only_doubtful_text_is_checked_and_a_confident_one_not():
    regions = [(152.7, 156.0), (158.0, 161.1), (162.8, 165.8), (167.6, 170.8), (171.0, 172.5),
               (173.0, 178.0)]
    segments = [seg(152.4, 155.7, -0.25), seg(157.7, 160.8, -0.25), seg(162.7, 165.6, -0.25),
                seg(166.8, 168.5, -0.92), seg(168.5, 171.1, -0.92)]  # "PUSHWAMI MAMI"
    found = doubtful_regions(regions, segments, PARAMS.language_check_logprob, 2.0)
    # the French region's gibberish, and 173-178 s with no text; 171.0-172.5 s is too short
    assert found == [(167.6, 170.8), (173.0, 178.0)]
    # English of every measured log-probability (-0.1 to -0.35) is never checked
    assert doubtful_regions([(0.0, 3.0)], [seg(0.1, 2.9, -0.35)], -0.5, 2.0) == []
    # JFK: one segment over all four of its speech regions (its middle in a pause) is text
    # in each of them
    jfk = [(0.22, 2.34), (3.228, 4.452), (5.34, 7.716), (8.124, 11.0)]
    assert doubtful_regions(jfk, [seg(0.0, 10.36, -0.2374)], -0.5, 2.0) == []
    assert mean_logprob([]) == float("-inf")


def test_the_detection_and_the_second_decode_decide_what_a_region_becomes():
    # detected as the job's language, or not confidently another over no text: nothing more
    assert verdict("en", "en", 0.95, float("-inf"), PARAMS) == "same"
    assert verdict("en", "fr", 0.55, float("-inf"), PARAMS, wrote_text=False) == "same"
    # not confidently another over doubtful text (espeak French decoded as an English
    # outro at -1.10, detected 'ms' p=0.26): kept, doubted
    assert verdict("en", "ms", 0.2618, float("-inf"), PARAMS) == "unconfirmed"
    # confidently another language, and its decode is confident: it replaces the first
    assert verdict("en", "es", 0.89, -0.3, PARAMS) == "switched"
    # base hears espeak French as Thai (p=0.82) and writes Thai gibberish at -0.56: doubtful
    assert verdict("en", "th", 0.82, -0.564, PARAMS) == "doubtful"
    assert verdict("en", "th", 0.82, float("-inf"), PARAMS) == "doubtful"  # no text either


def test_each_doubtful_region_is_one_degraded_sentence_with_time_languages_and_fix():
    result = {"language_detection": {"rechecks": [
        {"start": 167.28, "end": 171.12, "decoded_as": "en", "detected": "th",
         "probability": 0.8203, "outcome": "doubtful"},
        {"start": 20.0, "end": 24.0, "decoded_as": "en", "detected": "en", "probability": 0.9,
         "outcome": "same"},
        {"start": 40.0, "end": 44.0, "decoded_as": "en", "detected": "es", "probability": 0.9,
         "outcome": "switched"},
        {"start": 37.04, "end": 43.856, "decoded_as": "en", "logprob": -1.097, "detected": "ms",
         "probability": 0.2618, "outcome": "unconfirmed"}]}}
    assert degraded_reasons(result, "listen") == [
        "3.8 s of speech at 2:47 (167.3-171.1 s) may not be 'en': Whisper detected 'th' there "
        "(p=0.82) but decoded it with confidence in neither; fix: listen",
        "6.8 s of speech at 0:37 (37.0-43.9 s) may not be 'en': its text there is doubtful "
        "(mean log-probability -1.097) and its language unconfirmed (detected 'ms', p=0.26); "
        "fix: listen"]
    assert degraded_reasons({"language_detection": {"calls": 4, "windows": []}}, "x") == []
    assert degraded_reasons({}, "x") == []


def test_a_set_language_is_never_switched_only_doubted():
    # its own detection hears the set language (hi and ur are one): nothing more
    assert set_verdict("en", "en", 0.47, PARAMS, True) == "same"
    assert set_verdict("hi", "ur", 0.9, PARAMS, True) == "same"
    # espeak Hindi under -s en, written as romanised gibberish and heard as Thai: contradicted
    assert set_verdict("en", "th", 0.9354, PARAMS, True) == "contradicted"
    # heard as nothing with confidence: unconfirmed where text was written, else nothing
    assert set_verdict("en", "th", 0.1749, PARAMS, True) == "unconfirmed"
    assert set_verdict("en", "th", 0.1749, PARAMS, False) == "same"


def test_a_contradicted_region_names_what_it_sounds_like_and_minus_s_auto():
    result = {"language_detection": {"rechecks": [
        {"start": 278.288, "end": 282.016, "decoded_as": "en", "logprob": -0.825,
         "detected": "th", "probability": 0.9354, "outcome": "contradicted"}]}}
    assert degraded_reasons(result, "listen") == [
        "3.7 s of speech at 4:38 (278.3-282.0 s) may not be 'en': it sounds like 'th' "
        "(p=0.94) and its text is doubtful (mean log-probability -0.825): decoded as the "
        "job's 'en' it may be invented text or a translation; fix: prepare the job with "
        "-s auto, which decodes each region in its own language (--set "
        "asr.language_candidates='[\"en\", \"th\"]' to choose between the two); or listen"]
