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
