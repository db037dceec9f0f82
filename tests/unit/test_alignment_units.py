"""The alignment stage's word clean-up and sentence re-cut (stages.alignment.words), and its
resolve(): which aligner a job gets, decided in the runner."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared.transcript import Segment, Word
from stages.alignment import AlignmentParams, model_refs, resolve
from stages.alignment import words as cleanup
from stages.alignment.words import is_sentence_end


def finish(segments: list[dict], **options) -> list[dict]:
    """stages.alignment.words.finish on these segments, as aligned.json would hold them."""
    return [s.to_json() for s in cleanup.finish([Segment.model_validate(s) for s in segments],
                                                **options)]


def fill_missing(words: list[dict], lo: float, hi: float) -> list[dict]:
    return [w.to_json() for w in cleanup.fill_missing([Word.model_validate(w) for w in words],
                                                      lo, hi)]


def split_sentences(words: list[dict]) -> list[list[Word]]:
    return cleanup.split_sentences([Word.model_validate(w) for w in words])


def word(text: str, start: float | None, end: float | None, p: float = 0.9) -> dict:
    return {"word": text, "start": start, "end": end, "probability": p}


def assert_well_formed(segments: list[dict]) -> None:
    previous_end = 0.0
    for s in segments:
        assert s["words"], s
        for w in s["words"]:
            assert s["start"] <= w["start"] <= w["end"] <= s["end"], (s["text"], w)
            assert w["start"] >= previous_end, (s["text"], w)
            previous_end = w["end"]


def test_two_english_sentences_become_two_segments_with_their_words_and_times():
    segment = {"id": 7, "start": 0.0, "end": 6.0, "language": "en", "avg_logprob": -0.2,
               "text": "Ask not what your country can do. Ask what you can do!",
               "words": [word(" Ask", 0.2, 0.5), word(" not", 0.5, 0.8), word(" what", 0.8, 1.0),
                         word(" your", 1.0, 1.2), word(" country", 1.2, 1.7),
                         word(" can", 1.7, 1.9), word(" do.", 1.9, 2.3),
                         word(" Ask", 3.0, 3.3), word(" what", 3.3, 3.6), word(" you", 3.6, 3.8),
                         word(" can", 3.8, 4.0), word(" do!", 4.0, 4.6)]}
    out = finish([segment])
    assert [s["text"] for s in out] == ["Ask not what your country can do.",
                                        "Ask what you can do!"]
    assert [(s["start"], s["end"]) for s in out] == [(0.2, 2.3), (3.0, 4.6)]
    assert [len(s["words"]) for s in out] == [7, 5]
    assert out[1]["words"][0] == word(" Ask", 3.0, 3.3)
    assert [s["id"] for s in out] == [0, 1] and {s["source_id"] for s in out} == {7}
    assert all(s["language"] == "en" and s["avg_logprob"] == -0.2 for s in out)
    assert_well_formed(out)


def test_hindi_sentences_are_cut_at_the_danda_and_question_mark():
    texts = ["नमस्ते", "दोस्तों।", "आप", "कैसे", "हैं?", "मैं", "ठीक", "हूँ॥"]
    times = [(0.5, 0.9), (0.9, 1.4), (1.8, 2.0), (2.0, 2.3), (2.3, 2.6), (3.0, 3.2),
             (3.2, 3.5), (3.5, 3.9)]
    segment = {"id": 0, "start": 0.4, "end": 4.0, "language": "hi", "text": " ".join(texts),
               "words": [word(" " + t, s, e) for t, (s, e) in zip(texts, times, strict=True)]}
    out = finish([segment])
    assert [s["text"] for s in out] == ["नमस्ते दोस्तों।", "आप कैसे हैं?", "मैं ठीक हूँ॥"]
    assert [(s["start"], s["end"]) for s in out] == [(0.5, 1.4), (1.8, 2.6), (3.0, 3.9)]
    assert [[w["word"].strip() for w in s["words"]] for s in out] == [
        texts[:2], texts[2:5], texts[5:]]
    assert_well_formed(out)


def test_urdu_full_stop_and_a_closing_quote_end_sentences():
    words = [word(" یہ", 0, 1), word(" ہے۔", 1, 2), word(" وہ", 2, 3)]
    assert [len(p) for p in split_sentences(words)] == [2, 1]
    assert is_sentence_end(' go."', "Then")
    assert is_sentence_end(" go.)", "Then")


@pytest.mark.parametrize("text, following, ends", [
    ("Dr.", "Smith", False), ("U.S.", "Army", False), ("J.", "Kennedy", False),
    ("Mr.", "Ram", False), ("country.", "Ask", True), ("country.", "and", False),
    ("so...", "and", False), ("so...", "Then", True), ("so…", "Then", True),
    ("why?", "and", True), ("1990.", "Then", True), ("word", "Then", False),
    ("दोस्तों।", "आप", True), ("हैं", "आप", False),
])
def test_sentence_ends(text, following, ends):
    assert is_sentence_end(" " + text, " " + following) is ends


def test_words_the_aligner_could_not_place_share_the_gap_by_length():
    words = [word(" a", 1.0, 1.2), word(" bb", None, None), word(" dddd", None, None),
             word(" e", 2.0, 2.2)]
    filled = fill_missing(words, 0.0, 3.0)
    assert [(w["start"], w["end"]) for w in filled[1:3]] == [
        pytest.approx((1.2, 1.466667), abs=1e-4), pytest.approx((1.466667, 2.0), abs=1e-4)]
    assert filled[1]["interpolated"] and "interpolated" not in filled[0]
    leading = fill_missing([word(" x", None, None), word(" y", 0.8, 1.0)], 0.5, 1.0)
    assert (leading[0]["start"], leading[0]["end"]) == (0.5, 0.8)


def test_words_are_clamped_into_their_segment_and_made_monotonic():
    segments = [
        {"id": 0, "start": 1.0, "end": 3.0, "text": "one two three",
         "words": [word(" one", 0.7, 1.4), word(" two", 1.2, 1.1), word(" three", 2.5, 3.4)]},
        {"id": 1, "start": 2.8, "end": 5.0, "text": "four five",  # overlaps the first
         "words": [word(" four", 2.9, 3.5), word(" five", 4.0, 4.5)]},
    ]
    out = finish(segments)
    flat = [(w["word"].strip(), w["start"], w["end"]) for s in out for w in s["words"]]
    assert flat == [("one", 1.0, 1.4), ("two", 1.4, 1.4), ("three", 2.5, 3.0),
                    ("four", 3.0, 3.5), ("five", 4.0, 4.5)]
    assert_well_formed(out)


def test_a_segment_without_words_gets_words_spread_over_its_time():
    out = finish([{"id": 0, "start": 2.0, "end": 4.0, "text": "Hello there. General Kenobi.",
                   "words": []}])
    assert [s["text"] for s in out] == ["Hello there.", "General Kenobi."]
    assert out[0]["start"] == 2.0 and out[-1]["end"] == 4.0
    assert all(w["interpolated"] and w["probability"] == 0.0 for s in out for w in s["words"])
    assert_well_formed(out)


def test_no_split_keeps_segments_and_empty_ones_are_dropped():
    segment = {"id": 0, "start": 0.0, "end": 2.0, "text": "A b. C d.",
               "words": [word(" A", 0, 0.5), word(" b.", 0.5, 1), word(" C", 1, 1.5),
                         word(" d.", 1.5, 2)]}
    assert len(finish([segment], split=False)) == 1
    assert finish([{"id": 1, "start": 0, "end": 1, "text": "  ", "words": []}]) == []


# -- resolve: which aligner, decided in the runner ------------------------------------------
def context(tmp_path, source_lang="hi", overrides=None, cached=()):
    from shared import hf_cache
    from shared.model_registry import load_models

    hub = tmp_path / "hub"
    hub.mkdir(exist_ok=True)
    for repo in cached:
        (tmp_path / "config.json").write_text("{}")
        hf_cache.install_snapshot(hub, repo, "a" * 40, {"config.json": tmp_path / "config.json"})
    hardware = SimpleNamespace(
        defaults=SimpleNamespace(device="cpu", cpu_threads=4),
        cache=SimpleNamespace(hf_hub_cache=hub, hf_home=tmp_path))
    job = SimpleNamespace(source_lang=source_lang, overrides=overrides or {})
    return SimpleNamespace(hardware=hardware, models=load_models(), job=job, profile="cpu",
                           lang=None, offered={})


def test_resolve_falls_back_when_no_aligner_is_cached(tmp_path):
    params = resolve(AlignmentParams(), context(tmp_path))
    assert params.aligners == {} and params.model is None
    assert params.device == "cpu" and params.cpu_threads == 4
    assert model_refs(params, context(tmp_path)) == []


def test_resolve_picks_the_cached_default_of_the_language(tmp_path):
    ctx = context(tmp_path, cached=["theainerd/Wav2Vec2-large-xlsr-hindi",
                                    "facebook/wav2vec2-base-960h"])
    params = resolve(AlignmentParams(), ctx)
    assert params.aligners == {"hi": "theainerd/Wav2Vec2-large-xlsr-hindi"}
    [ref] = model_refs(params, ctx)
    assert (ref.name, ref.revision) == ("wav2vec2-hindi", "a" * 40)
    auto = resolve(AlignmentParams(), context(tmp_path, source_lang="auto"))
    assert auto.aligners == {"hi": "theainerd/Wav2Vec2-large-xlsr-hindi",
                             "en": "facebook/wav2vec2-base-960h"}


def test_resolve_takes_a_cached_model_for_every_language_and_refuses_a_missing_one(tmp_path):
    from shared.errors import InputError, ModelMissingError

    ctx = context(tmp_path, cached=["org/tiny"])
    params = resolve(AlignmentParams(model="org/tiny"), ctx)
    assert params.aligners == {"*": "org/tiny"} and params.model == "org/tiny"
    with pytest.raises(ModelMissingError, match="not in the cache"):
        resolve(AlignmentParams(model="org/absent"), ctx)
    with pytest.raises(InputError, match="unknown alignment model"):
        resolve(AlignmentParams(model="WAV2VEC2_ASR_BASE_960H"), ctx)
    ta = resolve(AlignmentParams(aligners={"ta": "org/tiny"}),
                 context(tmp_path, source_lang="ta"))
    assert ta.aligners == {"ta": "org/tiny"}
