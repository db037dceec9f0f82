"""Cue times follow the speech: word times clipped to the speech regions, the linger stopping
where the speech region ends, and the rules that may still hold a cue longer (minimum
duration, reading speed) reported per cue in qc.json."""

from __future__ import annotations

import json

from shared import transcript
from shared.transcript import Segment, Transcript
from stages.subtitles import run
from stages.subtitles.cues import Word
from stages.subtitles.speech import Speech, load
from stages.subtitles.style import load_sections, profile_for
from tests.helpers import typed_rows


def make_cues(segments: list[dict], *args, **kwargs):
    """The stage's make_cues on these dict segments, typed as the stage reads them."""
    return run.make_cues(typed_rows(segments), *args, **kwargs)

PROFILE = profile_for("en", load_sections(), {})


def segment(*words: tuple[str, float, float]) -> dict:
    return {"start": words[0][1], "end": words[-1][2], "text": " ".join(w for w, _, _ in words),
            "words": [{"word": " " + w, "start": s, "end": e} for w, s, e in words]}


def test_speech_regions_join_and_clip_a_word_to_the_speech_it_overlaps():
    speech = Speech.of([[5.0, 6.0], {"start": 1.0, "end": 2.0}, [1.8, 2.5]])
    assert speech.regions == ((1000, 2500), (5000, 6000))
    late = Word("gone.", 2200, 4800)  # Whisper let the last word run on into the pause
    assert speech.clip(late) and (late.start, late.end) == (2200, 2500)
    early = Word("Well,", 300, 1400)
    assert speech.clip(early) and (early.start, early.end) == (1000, 1400)
    across = Word("and", 2400, 5200)  # a word over two regions keeps both ends in speech
    assert not speech.clip(across) and (across.start, across.end) == (2400, 5200)
    missed = Word("hm", 3000, 3500)  # the VAD found no speech here: left as it is
    assert not speech.clip(missed) and (missed.start, missed.end) == (3000, 3500)
    assert speech.end_after(1200) == 2500 and speech.end_after(4000) is None


def test_a_cue_ends_with_its_speech_region_not_with_a_word_that_runs_into_the_silence():
    segs = [segment(("We", 1.0, 1.2), ("should", 1.25, 1.6), ("go", 1.65, 1.9),
                    ("home.", 1.95, 4.9)),
            segment(("Tomorrow", 8.0, 8.5), ("then.", 8.55, 9.2))]
    speech = Speech.of([[0.9, 2.45], [7.9, 9.3]])
    cues, qc = make_cues(segs, PROFILE, 25.0, speech=speech)
    assert [c.end for c in cues] == [2450, 9300]  # not 4900 + linger, not 9200 + 500
    assert qc["input"]["clipped_to_speech"] == 1
    assert qc["speech_regions"] == 2 and qc["held_past_speech"]["count"] == 0
    unclipped, _ = make_cues(segs, PROFILE, 25.0)
    assert [c.end for c in unclipped] == [5400, 9700]  # the word times plus 0.5 s linger


def test_the_linger_stops_where_the_speech_region_ends():
    segs = [segment(("I", 1.0, 1.2), ("told", 1.25, 1.6), ("you", 1.65, 1.9),
                    ("already.", 1.95, 2.4))]
    cues, _ = make_cues(segs, PROFILE, 25.0, speech=Speech.of([[0.95, 2.5]]))
    assert cues[0].end == 2500
    cues, _ = make_cues(segs, PROFILE, 25.0, speech=Speech.of([[0.95, 3.5]]))
    assert cues[0].end == 2900  # the region lasts: the whole 0.5 s linger


def test_minimum_duration_and_reading_speed_still_hold_a_cue_and_qc_says_which():
    segs = [segment(("Wait!", 1.0, 1.3)),
            segment(("Everybody", 5.0, 5.3), ("in", 5.3, 5.4), ("this", 5.4, 5.5),
                     ("village", 5.5, 5.7), ("remembers", 5.7, 6.0), ("the", 6.0, 6.1),
                     ("storm.", 6.1, 6.4))]
    speech = Speech.of([[0.95, 1.35], [4.95, 6.45]])
    cues, qc = make_cues(segs, PROFILE, 25.0, speech=speech)
    assert cues[0].duration >= 840 and cues[0].held == "min_duration"
    chars = len("Everybody in this village remembers the storm.")
    assert cues[1].duration >= chars / PROFILE.max_cps * 1000 and cues[1].held == "max_cps"
    held = qc["held_past_speech"]
    assert held["count"] == 2 and held["by_reason"] == {"min_duration": 1, "max_cps": 1}
    assert [row["cue"] for row in held["cues"]] == [1, 2]
    assert held["cues"][0]["past_speech_s"] > 0.4 and qc["rules"]["max_cps"]["after"] == 0


def test_no_cue_starts_before_the_audio_does():
    # the audio starts 5 s into the video; a word timed a little before the audio's start,
    # and a short first cue the minimum duration would otherwise show earlier
    segs = [segment(("Hey.", -0.4, 0.1)), segment(("Listen", 3.0, 3.4), ("to", 3.4, 3.5),
                                                  ("me.", 3.5, 3.9))]
    cues, _ = make_cues(segs, PROFILE, 25.0, offset=5.0)
    assert cues[0].start == 5000 and cues[0].duration >= 840
    cues, _ = make_cues(segs, PROFILE, 25.0, offset=5.0, speech=Speech.of([[0.0, 0.2]], 5.0))
    assert cues[0].start == 5000


def test_regions_load_from_the_vad_stage_or_asr_and_none_from_the_mlx_backend(tmp_path):
    vad = tmp_path / "speech_segments.json"
    vad.write_text(json.dumps({"segments": [{"start": 1.0, "end": 2.0}]}), "utf-8")
    asr = tmp_path / "segments.json"
    segments = [Segment(start=1.2, end=1.8, text="hi")]
    transcript.save(asr, Transcript(segments=segments, speech_regions=[(1.1, 1.9)]))
    mlx = tmp_path / "mlx" / "segments.json"
    transcript.save(mlx, Transcript(segments=segments))
    assert load(vad, 0.5).regions == ((1500, 2500),)
    assert load(asr).regions == ((1100, 1900),)
    assert load(mlx) is None and load(None) is None


def test_no_cue_ends_after_the_audio_does():
    # the last words end at 10.6 s of an 11 s file; at 5 characters a second the reading
    # speed would hold the cue to about 15 s (measured on jfk before the clamp: 15.09 s)
    profile = profile_for("en", load_sections(), {"max_cps": 5.0})
    segs = [segment(("And", 8.0, 8.2), ("so,", 8.2, 8.5), ("my", 8.6, 8.8), ("fellow", 8.8, 9.1),
                    ("Americans,", 9.1, 9.8), ("ask", 9.9, 10.1), ("not.", 10.1, 10.6))]
    unclamped, _ = make_cues(segs, profile, 25.0)
    assert unclamped[-1].end > 11000  # what the reading speed alone asks for
    cues, _ = make_cues(segs, profile, 25.0, end=11.0)
    assert cues[-1].end == 11000 and cues[-1].start == 8000
    # with a clip the audio ends at offset + its length on the media's timeline
    cues, _ = make_cues(segs, profile, 25.0, offset=60.0, end=71.0)
    assert cues[-1].end == 71000
    # a word timed past the end (a rounding of Whisper's) still gives a cue inside the audio
    cues, _ = make_cues([segment(("Bye.", 10.95, 11.4))], profile, 25.0, end=11.0)
    assert cues[0].end <= 11000 and cues[0].start < cues[0].end


def test_speech_with_no_cue_over_it_is_flagged_with_its_time_and_length():
    from stages.subtitles import qc

    segs = [segment(("Good", 1.0, 1.3), ("evening.", 1.3, 2.0)),
            segment(("See", 20.0, 20.3), ("you.", 20.3, 20.8))]
    # speech at 1-2 s and 20-21 s has cues; 8.0-13.1 s (another language Whisper gave no text
    # for) has none, nor 30.0-31.5 s (too short to flag), nor the 2.0-6.0 s tail of a region
    speech = Speech.of([[0.9, 6.0], [8.0, 13.1], [19.9, 20.9], [30.0, 31.5]])
    cues, quality = make_cues(segs, PROFILE, 25.0, speech=speech, unsubtitled_s=3.0)
    found = quality["unsubtitled_speech"]
    assert found["checked"] and found["count"] == 2 and not quality["ok"]
    assert [round(row["start_s"], 1) for row in found["spans"]] == [2.5, 8.0]
    assert found["spans"][1] == {"start": "00:00:08.000", "end": "00:00:13.100",
                                 "start_s": 8.0, "length_s": 5.1}
    assert found["spans"][0]["length_s"] == round((6000 - cues[0].end) / 1000, 3)
    reason = qc.unsubtitled_reason(found, "listen there")
    assert reason.startswith("2 stretches of speech, 8.6 s in all, have no subtitle "
                             "(5.1 s at 0:08, 3.5 s at 0:02)"), reason
    one = qc.unsubtitled_speech(cues, Speech.of([[167.6, 172.7]]), 3.0)
    assert qc.unsubtitled_reason(one, "x") == "5.1 s of speech at 2:47 has no subtitle; fix: x"
    # every region covered, or no regions known, or the check off: nothing flagged
    _, covered = make_cues(segs, PROFILE, 25.0, speech=Speech.of([[0.9, 2.3], [19.9, 20.9]]),
                           unsubtitled_s=3.0)
    assert covered["unsubtitled_speech"]["count"] == 0 and covered["ok"]
    assert qc.unsubtitled_reason(covered["unsubtitled_speech"], "x") is None
    _, unknown = make_cues(segs, PROFILE, 25.0, unsubtitled_s=3.0)
    assert unknown["unsubtitled_speech"]["checked"] is False
    _, off = make_cues(segs, PROFILE, 25.0, speech=speech, unsubtitled_s=0)
    assert off["unsubtitled_speech"]["count"] == 0
    from shared.clock import short_clock

    assert short_clock(3 * 3600 + 62.5) == "3:01:02" and short_clock(59.9) == "0:59"


def test_uncovered_parts_of_regions_between_and_around_cues():
    from stages.subtitles.qc import uncovered

    regions = ((0, 1000), (2000, 5000), (6000, 7000))
    shown = [(2500, 3000), (500, 2100), (3500, 4000), (7000, 9000)]
    assert uncovered(regions, shown) == [(0, 500), (2100, 2500), (3000, 3500), (4000, 5000),
                                         (6000, 7000)]
    assert uncovered(regions, []) == list(regions)
    assert uncovered((), shown) == []


def test_a_cue_the_pass_cannot_lengthen_or_that_no_one_can_read_is_a_degraded_reason():
    """The Long Night's loop: three cues 0.01 s long at 14:43 (the next starts too soon) ->
    unreadable, named with their times; a cue over the style's max_cps but under
    unreadable_cps stays a flag only."""
    from stages.subtitles import qc

    loop = "my uncle left her parcel by the blue gate,".split()
    segs = [segment(*[(w, 881.48 + 0.25 * i, 881.73 + 0.25 * i) for i, w in enumerate(loop)]),
            segment(*[(w, 883.86, 883.86) for w in loop]),
            segment(*[(w, 883.96, 883.96) for w in loop]),
            segment(("the", 884.06, 884.2), ("sister", 884.2, 884.5), ("left", 884.5, 884.7),
                    ("a", 884.7, 884.8), ("parcel.", 884.8, 885.5)),
            segment(("Tell", 900.0, 900.2), ("the", 900.2, 900.3), ("driver", 900.3, 900.6),
                    ("to", 900.6, 900.7), ("wait", 900.7, 900.9), ("outside.", 900.9, 901.2)),
            segment(("We", 901.35, 901.6), ("will", 901.6, 901.8), ("not", 901.8, 902.0),
                    ("be", 902.0, 902.2), ("long.", 902.2, 903.0))]
    cues, quality = make_cues(segs, PROFILE, 24.0, speech=Speech.of([[881.4, 885.6],
                                                                      [899.9, 903.1]]),
                              unreadable_cps=50.0)
    found = quality["unreadable"]
    assert [row["cue"] for row in found["cues"]] == [2, 3] and not quality["ok"]
    assert all(row["why"] == "min_duration" and row["duration_s"] < 0.84
               for row in found["cues"])
    reason = qc.unreadable_reason(found, "listen there")
    assert reason.startswith("2 cues cannot be read (minimum 0.84 s, most 50 characters a "
                             "second): cue 2 at 14:43 shows for "), reason
    assert reason.endswith("; fix: listen there")
    fast = [row for row in quality["rules"]["max_cps"]["cues"] if row not in (2, 3)]
    assert fast, quality["rules"]["max_cps"]  # over 20 cps: flagged, not degraded
    _, off = make_cues(segs[2:], PROFILE, 24.0, unreadable_cps=0.0)
    assert off["unreadable"]["count"] == 0 and qc.unreadable_reason(off["unreadable"], "") \
        is None


def test_cues_over_a_doubtful_language_region_are_flagged_with_its_span_and_language():
    """asr's check left 782.1-793.4 s doubtful (detected fr, decoded as en): the two cues over
    it are flagged in qc.json (the report's only-flagged filter reads the kind), the English
    ones around it are not, and the degraded reason names the span and the cues."""
    from shared.report.timeline import qc_flags
    from stages.subtitles import qc

    segs = [segment(("The", 780.0, 780.2), ("tailor", 780.2, 780.6), ("waited.", 780.6, 781.1)),
            segment(("Muswaratus.", 782.59, 783.07)),
            segment(("Je", 786.17, 786.5), ("ne", 786.5, 786.7), ("sais", 786.7, 787.0),
                    ("pas.", 787.0, 787.4)),
            segment(("The", 797.46, 797.7), ("teacher", 797.7, 798.1), ("forgot.", 798.1, 799.0))]
    checks = [{"start": 778.22, "end": 780.82, "decoded_as": "en", "detected": "en",
               "probability": 0.83, "outcome": "same"},
              {"start": 782.124, "end": 793.428, "decoded_as": "en", "detected": "fr",
               "probability": 0.8598, "outcome": "doubtful"}]
    cues, quality = make_cues(segs, PROFILE, 24.0, rechecks=checks)
    found = quality["doubtful_language"]
    assert [row["cue"] for row in found["cues"]] == [2, 3] and not quality["ok"]
    assert found["cues"][0]["detected"] == "fr"
    assert found["cues"][0]["span"] == "00:13:02.124-00:13:13.428"
    assert qc_flags(quality) == {2: ["doubtful_language"], 3: ["doubtful_language"]}
    reason = qc.doubtful_reason(found, "check those cues")
    assert reason.startswith("cues 2-3 at 13:02 (11.3 s) show Whisper's 'en' text of speech "
                             "it detected as 'fr' (p=0.86): flagged doubtful_language"), reason
    _, none = make_cues(segs, PROFILE, 24.0, rechecks=checks[:1])
    assert none["doubtful_language"]["count"] == 0 and none["ok"]
    # a language the user set is never switched, its doubtful text "contradicted": flagged too
    contradicted = [checks[0], {**checks[1], "outcome": "contradicted"}]
    _, flagged = make_cues(segs, PROFILE, 24.0, rechecks=contradicted)
    assert [row["cue"] for row in flagged["doubtful_language"]["cues"]] == [2, 3]
