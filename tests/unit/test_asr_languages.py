"""-s auto on mixed-language audio, without a model: where the detection windows fall, when
their disagreement switches per-region decoding on, and each language's share of speech."""

from __future__ import annotations

from shared.transcript import Segment
from stages.asr.languages import detection_windows, dominant, shares, switch_reason


def window(language: str, probability: float, start: float, speech: float) -> dict:
    return {"language": language, "probability": probability, "start": start,
            "end": start + speech, "speech_s": speech, "probabilities": {language: probability}}


def test_a_short_mixed_file_gets_windows_on_both_sides_of_the_switch():
    # 11 s of English in four regions, a pause, 9 s of Spanish in one region
    regions = [(0.0, 2.6), (2.9, 4.8), (5.0, 7.9), (7.9, 11.0), (12.0, 21.0)]
    windows = detection_windows(regions, 4)
    assert len(windows) == 4
    assert windows[0][0][0] == 0.0 and windows[-1][-1][1] == 21.0  # spread over the whole
    assert all(sum(e - s for s, e in w) <= 5.25 + 1e-6 for w in windows)  # 21 s / 4
    assert any(w[0][0] >= 12.0 for w in windows) and any(w[-1][1] <= 11.0 for w in windows)


def test_a_long_file_gets_30_second_windows_spread_over_all_its_speech():
    regions = [(float(t), t + 9.0) for t in range(0, 3600, 10)]
    windows = detection_windows(regions, 4)
    assert len(windows) == 4
    assert [round(sum(e - s for s, e in w)) for w in windows] == [27, 27, 27, 27]
    assert windows[0][0][0] == 0.0 and windows[-1][-1][1] == 3599.0
    assert detection_windows([], 4) == []


def test_windows_that_agree_or_disagree_without_confidence_keep_one_language():
    agree = [window("en", 0.93, t, 5.0) for t in (0, 5, 10, 15)]
    assert switch_reason(agree, "en", 0.7, 0.2) is None
    unsure = agree[:3] + [window("de", 0.35, 15, 5.0)]
    assert switch_reason(unsure, "en", 0.7, 0.2) is None
    small = [window("en", 0.9, t, 30.0) for t in range(0, 300, 30)] + [window("fr", 0.9, 300, 5)]
    assert switch_reason(small, "en", 0.7, 0.2) is None  # one window, 1.6%: below a set share
    assert "1 of 11" in switch_reason(small, "en", 0.7, 0.0)  # the default: any confident one


def test_by_default_one_confident_window_of_another_language_switches_on():
    """Measured on a generated 6.7-minute English film ending in 16 s of espeak Spanish: three
    windows said en, the last es (p=0.94), 17% of the windows' speech. A share rule of 0.2
    ignored it and the Spanish came out as an English translation labelled as transcript."""
    from stages.asr import AsrParams

    params = AsrParams()
    film = [window("en", 0.98, 1, 28.6), window("en", 0.92, 121, 26.6),
            window("en", 0.98, 252, 26.1), window("es", 0.94, 387, 16.3)]
    reason = switch_reason(film, "en", params.language_switch_probability,
                           params.language_switch_share)
    assert reason and "es (p=0.94)" in reason


def test_confident_disagreement_by_two_windows_or_a_fifth_of_the_speech_switches_on():
    mixed = [window("en", 0.93, 0, 5.0), window("en", 0.88, 5, 5.0),
             window("es", 0.95, 12, 5.0), window("es", 0.83, 17, 4.0)]
    reason = switch_reason(mixed, "en", 0.7, 0.2)
    assert reason and "2 of 4" in reason and "es (p=0.95) at 12.0-17.0 s" in reason
    one = [window("en", 0.9, t, 5.0) for t in (0, 5, 10)] + [window("es", 0.9, 15, 5.0)]
    assert "25%" in switch_reason(one, "en", 0.7, 0.2)


def test_shares_are_by_speech_time_and_the_dominant_language_has_the_most():
    segments = [Segment(start=0.0, end=11.0, language="en"),
                Segment(start=12.0, end=21.0, language="es"),
                Segment(start=21.0, end=22.0, language=None)]
    found = shares(segments, "es")
    assert found == {"en": 0.5238, "es": 0.4762} and list(found) == ["en", "es"]
    assert dominant(shares(segments[:2]), "und") == "en"
    assert shares([]) == {} and dominant({}, "und") == "und"
