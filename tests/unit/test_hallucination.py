"""The hallucination post-pass removes loops, boilerplate, non-speech and impossible reading
speeds, and reports every removal with its reason."""

from __future__ import annotations

from shared.hallucination import collapse_loop, filter_segments


def seg(i, start, end, text, words=None):
    return {"id": i, "start": start, "end": end, "text": text, "words": words or []}


def test_crafted_transcript_loses_its_loops_and_boilerplate():
    segments = [
        seg(0, 0.0, 3.0, "Where were you last night?"),
        seg(1, 3.5, 9.0, "I was at home. I was at home. I was at home. I was at home."),
        seg(2, 9.5, 11.0, "Okay."),
        seg(3, 11.5, 12.5, "Okay."),
        seg(4, 13.0, 14.0, "Okay."),
        seg(5, 20.0, 23.0, "Thanks for watching!"),
        seg(6, 24.0, 27.0, "देखने के लिए धन्यवाद।"),
        seg(7, 28.0, 28.2, "This sentence cannot possibly be spoken this fast."),
        seg(8, 30.0, 33.0, "चलो यार, घर चलते हैं।"),
    ]
    report = filter_segments(segments)
    kept = [s["text"] for s in report.kept]
    assert kept == ["Where were you last night?", "I was at home.", "Okay.", "Okay.",
                    "चलो यार, घर चलते हैं।"]
    reasons = {r["segment"]["id"]: r["reason"] for r in report.removed}
    assert "consecutive" in reasons[4]
    assert "boilerplate" in reasons[5] and "boilerplate" in reasons[6]
    assert "characters per second" in reasons[7]
    assert report.changed[0]["after"] == "I was at home."
    assert "repetition loop" in report.changed[0]["reason"]


def test_segments_over_non_speech_are_removed_when_vad_regions_are_known():
    segments = [seg(0, 1.0, 4.0, "Real dialogue here."), seg(1, 10.0, 14.0, "Music lyrics?")]
    report = filter_segments(segments, speech=[(0.8, 4.2)])
    assert [s["id"] for s in report.kept] == [0]
    assert "no speech" in report.removed[0]["reason"]


def test_collapse_loop_keeps_text_without_loops():
    assert collapse_loop("ask not what your country can do for you", 3) is None
    assert collapse_loop("na na na na hey", 3) == "na hey"
    assert collapse_loop("ha ha", 3) is None


# Whisper base's loop in The Long Night (2024) at 13:45 (segments.jsonl, segment 89: faster-
# whisper's compression_ratio 6.76 after every temperature fallback), and a correct segment
# of the same film that is itself repetitive (the true text: template sentences)
LOOP = ("The old farmer forgot the money at the blue gate, the sister forgot the money at the "
        "blue gate, the teacher left her parcel by the blue gate, " + "my uncle left her "
        "parcel by the blue gate, " * 8 + "the captain left her parcel by the blue gate, "
        + "my uncle left her parcel by the blue gate, " * 2)
TEMPLATE = ("The old farmer left a parcel by the blue gate, the sister left a parcel by the "
            "blue gate, the young doctor left a parcel by the blue gate, the postman left a "
            "parcel by the blue gate, his mother left a parcel by the blue gate, the tailor "
            "left a parcel by the blue gate, the teacher lost his watch near the blue gate, "
            "my uncle lost his watch near the blue gate,")


def test_a_segment_whose_text_compresses_over_the_limit_is_removed_as_a_loop():
    from shared.hallucination import FilterOptions, compression_ratio

    segments = [seg(0, 825.0, 876.72, LOOP), seg(1, 878.51, 932.42, TEMPLATE),
                seg(2, 940.0, 943.0, "Tell the driver to wait outside. We will not be long.")]
    segments[0]["compression_ratio"] = 6.7603  # what faster-whisper reported: its window's
    assert 3.0 < compression_ratio(TEMPLATE) < 5.0 < compression_ratio(LOOP)
    report = filter_segments(segments)
    assert [s["id"] for s in report.kept] == [1, 2] and not report.changed
    (removed,) = report.removed
    assert removed["segment"]["id"] == 0
    assert removed["reason"].startswith("repetition loop: the text compresses ")
    assert "(limit 5)" in removed["reason"]
    # off: the loop is only collapsed where a phrase repeats in a row
    report = filter_segments(segments, options=FilterOptions(max_compression_ratio=None))
    assert [s["id"] for s in report.kept] == [0, 1, 2] and report.changed
