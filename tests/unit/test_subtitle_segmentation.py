"""Subtitle segmentation, wrapping and timing (stages/subtitles): property tests over random
word-timed segments in English and Devanagari, and fixed examples."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.subtitle_text import graphemes
from stages.subtitles import run
from stages.subtitles.speech import Speech
from stages.subtitles.style import StyleProfile, load_sections, profile_for
from stages.subtitles.timing import Timing
from stages.subtitles.wrapping import wrap
from tests.helpers import typed_rows


def make_cues(segments: list[dict], *args, **kwargs):
    """The stage's make_cues on these dict segments, typed as the stage reads them."""
    return run.make_cues(typed_rows(segments), *args, **kwargs)

ENGLISH = ["the", "film", "and", "we", "talked", "about", "it,", "because", "Shah", "Rukh",
           "Khan", "Mumbai.", "really?", "extraordinarily", "so", "yes!", "a", "long", "time;"]
HINDI = ["मैंने", "कल", "शाहरुख़", "से", "मुलाक़ात", "की", "और", "हमने", "क्षत्रिय", "स्त्री",
         "बातें", "कीं।", "लेकिन", "फ़िल्म", "के", "बारे", "में", "कि", "तो", "हिन्दी,"]


def profile(lang: str = "en", **overrides) -> StyleProfile:
    return profile_for(lang, load_sections(), overrides)


@st.composite
def segments(draw, vocabulary: list[str]):
    out, t = [], draw(st.floats(0, 5))
    for _ in range(draw(st.integers(1, 6))):
        words, start = [], t
        for _ in range(draw(st.integers(0, 40))):
            t += draw(st.sampled_from([0.0, 0.02, 0.1, 0.3, 0.8, 2.0]))
            duration = draw(st.sampled_from([0.25, 0.4, 0.6, 1.0, 0.0, -0.1]))
            words.append({"word": " " + draw(st.sampled_from(vocabulary)),
                          "start": round(t, 3), "end": round(t + duration, 3)})
            t += max(duration, 0.0)
        text = "".join(w["word"] for w in words)
        out.append({"start": round(start, 3), "end": round(t, 3), "text": text, "words": words,
                    "lyrics": draw(st.booleans())})
        t += draw(st.sampled_from([0.0, 0.05, 0.5, 3.0]))
    return out


def check(segs: list[dict], prof: StyleProfile, fps: float, speech: Speech | None = None
          ) -> None:
    cues, qc = make_cues(segs, prof, fps, speech=speech)
    rules = Timing.of(prof, fps)
    said = [w["word"].strip() for s in segs for w in s["words"]]
    assert [w for c in cues for w in c.words] == said  # nothing lost or reordered
    listed = {rule: set(row["cues"]) for rule, row in qc["rules"].items()}
    for number, cue in enumerate(cues, 1):
        assert " ".join(cue.lines).split() == cue.words
        assert cue.end > cue.start >= 0
        if len(cue.lines) > prof.max_lines:
            assert number in listed["max_lines"]
        if any(graphemes(line) > prof.max_chars_per_line for line in cue.lines):
            assert number in listed["max_chars_per_line"]
        if cue.duration < rules.min_duration:
            assert number in listed["min_duration"]
        if cue.duration > rules.max_duration:
            assert number in listed["max_duration"]
        if cue.held is None:  # ends with its speech, the linger at most
            assert cue.end <= max(cue.speech_end + rules.linger, cue.start + 10)
            if cue.speech_limit is not None:
                assert cue.end <= max(cue.speech_limit, cue.speech_end, cue.start + 10)
    assert qc["held_past_speech"]["count"] == sum(c.held is not None for c in cues)
    for a, b in zip(cues, cues[1:], strict=False):
        assert b.start - a.end >= rules.gap  # never overlapping, always the minimum gap
    assert qc["rules"]["min_gap"]["after"] == 0
    assert len(cues) == qc["cues"]


SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(segments(ENGLISH), st.sampled_from([23.976, 24.0, 25.0, 29.97]))
def test_random_english_segments_meet_the_rules_or_are_reported(segs, fps):
    check(segs, profile("en"), fps)


@SETTINGS
@given(segments(HINDI), st.sampled_from([24.0, 25.0]))
def test_random_devanagari_segments_meet_the_rules_or_are_reported(segs, fps):
    check(segs, profile("hi", max_chars_per_line=30), fps)


@st.composite
def with_speech(draw):
    """Segments and speech regions around some of their words (others the VAD missed),
    some ending before a word does (Whisper's word running on into a pause)."""
    segs = draw(segments(ENGLISH))
    regions = []
    for word in (w for s in segs for w in s["words"]):
        if draw(st.booleans()):
            regions.append([word["start"] - draw(st.sampled_from([0.0, 0.1, 0.3])),
                            word["end"] + draw(st.sampled_from([-0.2, 0.0, 0.1, 0.6]))])
    return segs, Speech.of(regions)


@SETTINGS
@given(with_speech(), st.sampled_from([24.0, 25.0]))
def test_random_segments_clipped_to_speech_meet_the_rules_or_are_reported(drawn, fps):
    segs, speech = drawn
    check(segs, profile("en"), fps, speech)


def monologue() -> list[dict]:
    sentences = ["Good evening, everyone, and thank you for coming tonight.",
                 "When I started making this film I had no idea how long it would take",
                 "or how many people would help me finish it.",
                 "We shot in Mumbai, in Delhi and in a tiny village near Jaipur,",
                 "and every single day something went wrong.", "But we kept going."]
    words, t = [], 0.0
    for sentence in sentences:
        for token in sentence.split():
            words.append({"word": " " + token, "start": round(t, 2), "end": round(t + 0.28, 2)})
            t += 0.32
        t += 0.45
    return [{"start": 0.0, "end": words[-1]["end"], "text": "".join(w["word"] for w in words),
             "words": words}]


def test_a_twenty_second_monologue_splits_into_readable_cues():
    segs = monologue()
    assert 18 < segs[0]["end"] < 24
    prof = profile("en")
    cues, qc = make_cues(segs, prof, 25.0)
    assert 4 <= len(cues) <= 10
    assert qc["ok"], qc["rules"]
    assert qc["rules"]["max_duration"]["before"] == 1 and qc["rules"]["max_lines"]["before"] == 1
    for cue in cues:
        assert len(cue.lines) <= 2 and all(graphemes(line) <= 42 for line in cue.lines)
        assert 5 / 6 <= cue.duration / 1000 <= 7
    # cues end where sentences or clauses end, not in the middle of a phrase
    endings = [cue.words[-1] for cue in cues]
    assert sum(e[-1] in ".,?!" for e in endings) >= len(cues) - 1
    assert endings[-1] == "going."


def test_a_name_is_never_broken_across_lines():
    text = "Yesterday after the long shoot I finally met Shah Rukh Khan at the studio"
    for width in range(20, 43):
        lines = wrap(text, width, 2)
        assert any("Shah Rukh Khan" in line for line in lines), (width, lines)
    words = [{"word": " " + w, "start": i * 0.3, "end": i * 0.3 + 0.25}
             for i, w in enumerate(text.split())]
    cues, _ = make_cues([{"start": 0, "end": 5, "text": text, "words": words}],
                        profile("en", max_chars_per_line=24), 24.0)
    assert any("Shah Rukh Khan" in line for cue in cues for line in cue.lines)


def test_lines_break_after_punctuation_and_before_conjunctions_bottom_heavy():
    assert wrap("I waited for you all night, but you never came back home", 42, 2) == [
        "I waited for you all night,", "but you never came back home"]
    assert wrap("मैं पूरी रात तुम्हारा इंतज़ार करता रहा लेकिन तुम घर नहीं आए", 30, 2) == [
        "मैं पूरी रात तुम्हारा इंतज़ार करता रहा", "लेकिन तुम घर नहीं आए"]
    top, bottom = wrap("one two three four five six seven eight nine ten eleven", 42, 2)
    assert len(top) <= len(bottom)
    assert wrap("short line", 42, 2) == ["short line"]


def test_hindi_with_conjuncts_counts_grapheme_clusters():
    assert graphemes("क्षत्रिय") == 3
    assert graphemes("नमस्ते") == 3
    assert graphemes("स्त्री") == 1
    line = "क्षत्रिय स्त्री ने नमस्ते कहा"  # 29 code points, 14 grapheme clusters
    assert len(line) == 29 and graphemes(line) == 3 + 1 + 1 + 1 + 1 + 1 + 3 + 1 + 2
    assert wrap(line, 14, 2) == [line]  # fits by graphemes though not by code points


def test_bad_input_is_fixed_or_dropped_and_reported():
    words = [{"word": " Hello", "start": 1.0, "end": 1.4},
             {"word": " there", "start": 1.5, "end": 1.5},  # zero duration
             {"word": " my", "start": 2.0, "end": 1.8},  # negative duration
             {"word": " friend.", "start": 2.1, "end": 2.6}]
    segs = [{"start": 1.0, "end": 2.6, "text": "Hello there my friend.", "words": words},
            {"start": 3.0, "end": 4.0, "text": "   ", "words": []},
            {"id": 2, "start": 5.0, "end": 6.0, "text": "", "origin": "empty"},
            {"start": 7.0, "end": 9.0, "text": "Use {\\an8} and <i>tags</i> as text."}]
    cues, qc = make_cues(segs, profile("en"), 24.0)
    assert qc["input"]["fixed_word_times"] == 2
    assert [w["word"] for w in qc["input"]["fixed_word_examples"]] == ["there", "my"]
    assert qc["input"]["dropped_empty_cues"] == 2
    assert [c.words for c in cues][0] == ["Hello", "there", "my", "friend."]
    assert cues[-1].lines == ["Use {\\an8} and <i>tags</i> as text."]
    assert cues[0].start == 1000 and cues[1].start == 7000


def test_unfixable_reading_speed_is_reported_not_hidden():
    text = "This sentence is spoken far too quickly for anyone to read it comfortably"
    tokens = text.split()
    words = [{"word": " " + w, "start": 10 + i * 0.12, "end": 10 + i * 0.12 + 0.1}
             for i, w in enumerate(tokens)]
    segs = [{"start": 7.0, "end": 7.5, "text": "Before.",
             "words": [{"word": "Before.", "start": 7.0, "end": 7.5}]},
            {"start": 10, "end": 12, "text": text, "words": words},
            {"start": 12.0, "end": 14.5, "text": "After.",  # no room to stay on longer
             "words": [{"word": "After.", "start": 12.0, "end": 14.5}]}]
    cues, qc = make_cues(segs, profile("en"), 25.0)
    row = qc["rules"]["max_cps"]
    assert row["after"] >= 1 and row["why_left"] and not qc["ok"]
    worst = row["worst"][0]
    assert worst["value"] > 20 and worst["start"].startswith("00:00:1")


def test_short_cues_are_extended_merged_and_gaps_closed():
    def seg(text, start, end):
        return {"start": start, "end": end, "text": text,
                "words": [{"word": text, "start": start, "end": end}]}

    prof = profile("en")
    cues, qc = make_cues([seg("Hi.", 1.0, 1.2), seg("Hello!", 1.3, 1.5),
                          seg("Far later.", 10.0, 11.5), seg("Close.", 11.8, 13.0)], prof, 25.0)
    assert cues[0].words == ["Hi.", "Hello!"]  # merged: both very short and close
    assert cues[0].duration >= 840
    assert cues[0].end == 1500 + 500  # lingers 0.5 s after the speech
    assert cues[1].end == 11800 - 80  # a 0.3 s gap (< 12 frames) closed down to 2 frames
    assert qc["ok"]


def test_params_override_the_profile():
    prof = profile_for("hi", load_sections(), {"max_cps": 17, "max_lines": None})
    assert prof.max_cps == 17 and prof.max_lines == 2
    assert profile("hi").max_cps == 22 and profile("en").max_cps == 20
    assert profile("xx").max_cps == 20  # unknown language: the default section
    assert Timing.of(profile("en"), 25.0).gap == 80
    assert Timing.of(profile("en"), 23.976).gap == 90  # 83.4 ms, rounded up to centiseconds


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_translated_segments_keep_their_time_and_split_long_text(lang):
    text = ("I never thought we would come this far. But here we are, together again, and "
            "the whole city is waiting for us to begin the show tonight.")
    segs = [{"id": 0, "start": 2.0, "end": 12.0, "text": text, "source_text": "स्रोत पाठ",
             "origin": "nmt"},
            {"id": 1, "start": 13.0, "end": 14.0, "text": "", "origin": "empty"}]
    cues, qc = make_cues(segs, profile(lang), 24.0)
    assert len(cues) >= 2
    assert [w for c in cues for w in c.words] == text.split()
    assert cues[0].start == 2000 and cues[-1].end <= 12000 + 500
    assert cues[0].words[-1] == "far."  # split at the sentence end
    assert qc["input"]["dropped_empty_cues"] == 1
    shares = [c.source_text for c in cues]
    assert " ".join(s for s in shares if s) == "स्रोत पाठ"
