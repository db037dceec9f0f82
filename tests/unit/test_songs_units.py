"""The songs stage's pure-Python parts: text evidence (repetition, tokens), the ramps and the
score combination, the smoothing (vote, hysteresis, short regions), soundtrack matching, and
the Params contract (no venvs, no audio)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.transcript import Segment
from stages.songs import SPEC, SongsParams
from stages.songs.decide import (
    Span,
    audio_parts,
    chains,
    combine,
    decide,
    grow,
    match_track,
    ramp,
    singing_parts,
    soundtrack_support,
    text_score,
    vote,
    weighted,
)
from stages.songs.text import ngrams, repetition, tokens


def seg(start: float, text: str, length: float = 3.0) -> Segment:
    return Segment(start=start, end=start + length, text=text)


def spans_every(n: int, step: float = 4.0, length: float = 3.5) -> list[Span]:
    return [Span(i * step, i * step + length) for i in range(n)]


# -- text evidence ----------------------------------------------------------------------
def test_tokens_drop_punctuation_and_case_but_keep_indic_marks():
    assert tokens("Tum hi ho, TUM hi ho!") == ["tum", "hi", "ho", "tum", "hi", "ho"]
    assert tokens("मैं कल, सुबह!  दिल्ली।") == ["मैं", "कल", "सुबह", "दिल्ली"]
    assert tokens("♪ la-la ♪") == ["la", "la"]


def test_a_line_shorter_than_n_is_one_ngram():
    assert ngrams(["o", "saathiya"], 3) == [("o", "saathiya")]
    assert ngrams(["a", "b", "c", "d"], 3) == [("a", "b", "c"), ("b", "c", "d")]
    assert ngrams([], 3) == []


def test_a_refrain_repeats_nearby_and_a_verse_does_not():
    segments = [seg(0, "O saathiya, mere saathiya"), seg(4, "tere bina jiya jaaye na"),
                seg(8, "o saathiya mere saathiya!"), seg(12, "chanda ki roshni mein")]
    found = repetition(segments, n=3, window_s=30)
    assert [e.repetition for e in found] == [1.0, 0.0, 1.0, 0.0]
    assert found[0].repeated == ("o saathiya mere", "saathiya mere saathiya")
    assert [e.words for e in found] == [4, 5, 4, 4]


def test_repetition_counts_only_within_the_window_and_inside_the_line():
    segments = [seg(0, "we are dancing in the rain"), seg(200, "we are dancing in the rain"),
                seg(400, "no no no no")]
    found = repetition(segments, n=3, window_s=60)
    assert [e.repetition for e in found] == [0.0, 0.0, 1.0]  # 200 s apart; "no no no" x2
    assert repetition(segments, n=3, window_s=300)[0].repetition == 1.0


def test_repetition_does_not_depend_on_the_order_of_the_segments():
    segments = [seg(8, "hold my hand tonight"), seg(0, "hold my hand tonight"),
                seg(4, "something else entirely here")]
    assert [e.repetition for e in repetition(segments, 3, 30)] == [1.0, 1.0, 0.0]


def test_dialogue_without_repeats_and_empty_lines_score_nothing():
    segments = [seg(0, "Good evening. The train leaves at nine."), seg(4, ""),
                seg(8, "I told you, I am not going anywhere.")]
    assert [e.repetition for e in repetition(segments, 3, 90)] == [0.0, 0.0, 0.0]
    params = SongsParams()
    assert text_score(0, 0.0, params) == 0.0
    assert text_score(4, 1.0, params) == pytest.approx(1.0)  # short and repeated
    assert text_score(12, 0.0, params) == 0.0  # long and new


# -- ramps and scores -------------------------------------------------------------------
def test_ramp_is_linear_clipped_reversible_and_passes_none():
    assert ramp(-21.0, (-30, -12)) == pytest.approx(0.5)
    assert ramp(-40.0, (-30, -12)) == 0.0 and ramp(0.0, (-30, -12)) == 1.0
    assert ramp(-30.0, (-20, -40)) == pytest.approx(0.5)  # reversed: lower is surer
    assert ramp(None, (0, 1)) is None and ramp(float("nan"), (0, 1)) is None


def test_weighted_ignores_measures_that_could_not_be_taken():
    assert weighted({"a": 1.0, "b": None, "c": 0.0}, {"a": 3, "b": 5, "c": 1}) == 0.75
    assert weighted({"a": None}, {"a": 1}) == 0.0
    assert weighted({"a": 1.0, "z": 0.0}, {"a": 1}) == 1.0  # unweighted: not counted


def test_text_raises_the_audio_score_and_never_lowers_it():
    assert combine(0.6, 0.0, 0.35) == 0.6
    assert combine(0.4, 1.0, 0.35) == pytest.approx(0.61)
    # repeated words without any music stay below the threshold
    assert combine(0.0, 1.0, 0.35) < SongsParams().threshold
    assert combine(1.0, 1.0, 0.35) == 1.0


def test_audio_parts_per_mode():
    params = SongsParams()
    measures = {"sustained_ratio": 0.4, "voiced_ratio": 0.9, "rhythm": 0.2, "bed_db": -40.0,
                "flatness_db": -45.0, "floor_db": -10.0, "harmonicity": None}
    assert audio_parts(measures, params, True) == {"sustained": 1.0, "voiced": 1.0,
                                                   "rhythm": 0.0, "bed": 0.0,
                                                   "tonality": 1.0}
    mixture = audio_parts(measures, params, False)
    assert mixture["tonality"] == 1.0 and mixture["continuity"] == 1.0
    assert mixture["harmonicity"] is None and "bed" not in mixture


# -- smoothing --------------------------------------------------------------------------
def test_vote_removes_isolated_flips_both_ways():
    spans = spans_every(13)
    no, yes = False, True
    flags = [no, no, yes, no, no, no, yes, yes, yes, no, yes, yes, yes]
    assert vote(flags, spans, 2, 8.0) == [no] * 6 + [yes] * 7
    song = [True, True, False, True, True]
    assert vote(song, spans_every(5), 2, 8.0) == [True] * 5
    assert vote(song, spans_every(5), 0, 8.0) == song


def test_a_long_pause_stops_the_vote():
    spans = [Span(0, 3), Span(4, 7), Span(60, 63), Span(64, 67), Span(68, 71)]
    flags = [True, True, False, False, False]
    # the first two are alone on their side of the pause: a tie keeps their flags
    assert vote(flags, spans, 2, 8.0) == flags


def test_grow_takes_in_likely_neighbours_only():
    spans = spans_every(6)
    scores = [0.1, 0.38, 0.9, 0.9, 0.36, 0.2]
    flags = [False, False, True, True, False, False]
    assert grow(flags, scores, spans, 0.35, 8.0) == [False, True, True, True, True, False]
    far = [Span(0, 3), Span(30, 33)]
    assert grow([False, True], [0.4, 0.9], far, 0.35, 8.0) == [False, True]


def test_chains_split_at_unflagged_segments_and_long_pauses():
    spans = [Span(0, 3), Span(4, 7), Span(8, 11), Span(30, 33), Span(34, 37)]
    assert chains(spans, [True, True, False, True, True], 8.0) == [[0, 1], [3, 4]]
    assert chains(spans, [True] * 5, 8.0) == [[0, 1, 2], [3, 4]]


def test_decide_keeps_song_length_runs_and_drops_short_ones():
    spans = spans_every(13)  # 4 s apart: 7 segments = 27.5 s, 3 segments = 11.5 s
    scores = [0.9] * 7 + [0.1] * 3 + [0.9] * 3
    decision = decide(scores, spans, threshold=0.45, neighbours=2, max_gap=8.0,
                      min_song_s=20.0, min_segments=2)
    assert decision.lyrics == [True] * 7 + [False] * 6
    assert [(s.start, s.end) for s in decision.songs] == [(0.0, 27.5)]
    assert [(d.start, d.end) for d in decision.dropped] == [(40.0, 51.5)]
    assert decision.songs[0].score == pytest.approx(0.9)


def test_decide_ignores_a_lone_high_score_in_dialogue():
    spans = spans_every(10)
    scores = [0.1, 0.2, 0.1, 0.8, 0.1, 0.2, 0.1, 0.1, 0.3, 0.1]
    decision = decide(scores, spans, threshold=0.45, neighbours=2, max_gap=8.0,
                      min_song_s=0.0, min_segments=1)
    assert decision.raw[3] and not any(decision.lyrics)


def test_without_singing_no_score_and_no_smoothing_makes_lyrics():
    """Dialogue over a music bed scores high on audio and repeats (text): without singing
    evidence it is no lyrics, not even next to a song, where the vote and the growing would
    have taken it in."""
    spans = spans_every(12)  # a song of 6 sung lines, then 6 lines of dialogue over music
    scores = [0.9] * 6 + [0.6] * 6
    singing = [0.9] * 6 + [0.2] * 6
    kwargs = dict(threshold=0.45, neighbours=2, max_gap=8.0, min_song_s=20.0,
                  min_segments=2, grow_threshold=0.35)
    assert decide(scores, spans, **kwargs).lyrics == [True] * 12  # text/bed alone: all
    decision = decide(scores, spans, singing=singing, singing_threshold=0.5, **kwargs)
    assert decision.lyrics == [True] * 6 + [False] * 6
    assert decision.raw == decision.voted == decision.lyrics
    assert [(s.start, s.end) for s in decision.songs] == [(0.0, 23.5)]
    # only dialogue, every line repeated and over music: no song at all
    assert not any(decide([0.6] * 12, spans, singing=[0.2] * 12, singing_threshold=0.5,
                          **kwargs).lyrics)


def test_a_spoken_line_inside_a_song_keeps_the_song_but_is_no_lyrics():
    spans = spans_every(7)
    singing = [0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9]
    decision = decide([0.9] * 7, spans, threshold=0.45, neighbours=2, max_gap=8.0,
                      min_song_s=20.0, min_segments=2, singing=singing,
                      singing_threshold=0.5)
    assert decision.lyrics == [True, True, True, False, True, True, True]
    assert [(s.start, s.end, s.indexes) for s in decision.songs] == \
        [(0.0, 27.5, [0, 1, 2, 4, 5, 6])]


def test_text_raises_the_score_only_as_far_as_there_is_singing():
    assert combine(0.3, 1.0, 0.35, singing=0.0) == 0.3
    assert combine(0.3, 1.0, 0.35, singing=1.0) == pytest.approx(0.545)
    assert combine(0.3, 1.0, 0.35, singing=0.5) == pytest.approx(0.4225)


def test_singing_evidence_is_the_voice_measures_only():
    params = SongsParams()
    measures = {"sustained_ratio": 0.0, "voiced_ratio": 0.5, "rhythm": 0.9, "bed_db": -3.0,
                "flatness_db": -22.0, "floor_db": -8.0, "harmonicity": 0.7}
    for separated in (True, False):
        parts = audio_parts(measures, params, separated)
        assert weighted(parts, params.separated_weights if separated
                        else params.mixture_weights) > params.threshold  # a bed and a beat
        singing = weighted(singing_parts(parts), params.singing_weights)
        assert singing < params.singing_threshold  # but nobody sings
    held = {**measures, "sustained_ratio": 0.6, "voiced_ratio": 0.95, "flatness_db": -45.0}
    assert weighted(singing_parts(audio_parts(held, params, True)),
                    params.singing_weights) == 1.0


# -- soundtrack -------------------------------------------------------------------------
TRACKS = [{"title": "Saathiya", "length_s": 290.0}, {"title": "Rain", "length_s": 60.0},
          {"title": "Bad", "length_s": None}]


def test_a_region_matches_the_track_closest_in_length_within_bounds():
    assert match_track(58.0, TRACKS, (0.4, 1.25)) == 1
    assert match_track(200.0, TRACKS, (0.4, 1.25)) == 0  # a film cuts a song short
    assert match_track(10.0, TRACKS, (0.4, 1.25)) is None
    assert match_track(58.0, TRACKS, (0.4, 1.25), taken={1}) == 1  # nothing else fits
    assert match_track(130.0, TRACKS, (0.4, 1.25), taken={0}) == 0


def test_soundtrack_bonus_goes_to_track_length_runs_of_likely_lyrics():
    spans = spans_every(20, step=4.0, length=3.5)  # 20 segments = 79.5 s
    scores = [0.4] * 16 + [0.1] * 4  # 16 likely segments = 63.5 s: the 60 s track
    bonus = soundtrack_support(scores, spans, TRACKS, 0.35, 8.0, (0.4, 1.25), 0.15)
    assert bonus == [0.15] * 16 + [0.0] * 4
    assert soundtrack_support(scores, spans, [], 0.35, 8.0, (0.4, 1.25), 0.15) == [0.0] * 20
    unsung = [True] * 4 + [False] * 16  # likely by score, but not sung: no run of lyrics
    assert soundtrack_support(scores, spans, TRACKS, 0.35, 8.0, (0.4, 1.25), 0.15,
                              unsung) == [0.0] * 20
    short = [0.4] * 3 + [0.1] * 17  # 11.5 s: no track is that short
    assert soundtrack_support(short, spans, TRACKS, 0.35, 8.0, (0.4, 1.25), 0.15) == \
        [0.0] * 20


def test_decide_names_each_song_s_track_once():
    spans = spans_every(40, step=4.0, length=3.5)
    scores = [0.9] * 15 + [0.1] * 5 + [0.9] * 15 + [0.1] * 5
    decision = decide(scores, spans, threshold=0.45, neighbours=2, max_gap=8.0,
                      min_song_s=20.0, min_segments=2,
                      tracks=[{"length_s": 60.0}, {"length_s": 62.0}])
    assert [s.track for s in decision.songs] == [0, 1]  # the second song gets the other


# -- contract ---------------------------------------------------------------------------
def test_the_contract_declares_optional_separation_and_metadata():
    assert SPEC.name == "songs" and SPEC.environments == ("whisperx",)
    assert SPEC.inputs["segments"] == ("alignment:aligned.json", "asr:segments.json")
    assert SPEC.inputs["audio"] == "demux:audio_16k.wav"
    assert all(SPEC.inputs[k].endswith("?") for k in ("vocals", "accompaniment", "metadata"))
    assert SPEC.outputs == ("segments.json", "songs.json")


@pytest.mark.parametrize("bad", [
    {"separated_weights": {"bed": 1.0, "loudness": 1.0}},
    {"mixture_weights": {"rhythm": 0.0}},
    {"f0_min": 500.0, "f0_max": 400.0},
    {"min_beat_s": 2.0, "max_beat_s": 1.0},
    {"threshold": 1.5},
    {"singing_weights": {"bed": 1.0}},  # the music around is no singing
    {"singing_threshold": -0.1},
    {"no_such_option": 1},
])
def test_params_reject_what_cannot_work(bad):
    with pytest.raises(ValidationError):
        SongsParams(**bad)
