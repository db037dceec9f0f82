"""A removed loop's span decoded again (stages/asr/redecode.py), the parts that need no model:
which spans, which speech regions under them, and what the same filter makes of the new
decode. The decode itself, with the real model, is tests/integration/test_asr_redecode.py."""

from __future__ import annotations

from shared.hallucination import FilterOptions, filter_segments
from stages.asr.redecode import loop_spans, outcome, regions_under, taking_place


def seg(start: float, end: float, text: str, language: str = "en") -> dict:
    return {"id": 0, "start": start, "end": end, "text": text, "language": language,
            "words": []}


LOOP_TEXT = "VS. " * 120


def test_the_filter_names_the_kind_of_each_removal():
    report = filter_segments([seg(0.0, 3.0, ""), seg(3.0, 6.0, "Thanks for watching!"),
                              seg(250.5, 308.5, LOOP_TEXT),
                              seg(310.0, 310.1, "This cannot be spoken so fast.")])
    assert [item["kind"] for item in report.removed] == ["empty", "boilerplate", "loop",
                                                         "reading_speed"]


def test_loop_spans_take_only_compression_loops_and_join_the_pieces_of_one():
    removed = filter_segments([
        seg(10.0, 12.0, "Okay."), seg(12.0, 13.0, "Okay."), seg(13.0, 14.0, "Okay."),
        seg(250.5, 280.0, LOOP_TEXT), seg(280.4, 308.5, LOOP_TEXT),  # one loop, two windows
        seg(400.0, 430.0, LOOP_TEXT, language="hi"), seg(430.0, 440.0, LOOP_TEXT)]).removed
    assert [item["kind"] for item in removed] == ["repeat", "loop", "loop", "loop", "loop"]
    # a repeat is not re-decoded (its text is kept once); loops in two languages stay apart
    assert loop_spans(removed) == [{"start": 250.5, "end": 308.5, "language": "en"},
                                   {"start": 400.0, "end": 430.0, "language": "hi"},
                                   {"start": 430.0, "end": 440.0, "language": "en"}]


def test_the_regions_under_a_span_are_whole_and_in_time_order():
    regions = [(260.0, 263.9), (248.1, 251.0), (300.2, 309.0), (309.5, 312.0), (240.0, 248.0)]
    span = {"start": 250.5, "end": 308.5, "language": "en"}
    assert regions_under(span, regions) == [(248.1, 251.0), (260.0, 263.9), (300.2, 309.0)]


def test_new_text_takes_the_loops_place_only_inside_its_span_and_outside_kept_text():
    span = {"start": 250.5, "end": 308.5, "language": "en"}
    kept = [seg(246.0, 251.2, "The captain left a parcel by the blue gate.")]
    found = [seg(248.1, 251.0, "The captain left a parcel by the blue gate."),  # kept already
             seg(260.0, 263.9, "My uncle forgot the money at the tea stall."),
             seg(306.0, 309.0, "Her sister heard a strange noise behind the school garden."),
             seg(309.5, 312.0, "The postman waited for an hour outside the cinema hall.")]
    assert [s["text"] for s in taking_place(span, found, kept)] == [
        "My uncle forgot the money at the tea stall.",
        "Her sister heard a strange noise behind the school garden."]


def test_the_same_filter_judges_the_new_decode():
    span = {"start": 250.5, "end": 308.5, "language": "en"}
    options = FilterOptions()
    good = [seg(260.0, 263.9, "My uncle forgot the money at the tea stall."),
            seg(270.0, 272.0, "Thanks for watching!")]
    verdict, new, dropped = outcome(span, good, [], None, options)
    assert verdict == "replaced" and [s["start"] for s in new] == [260.0]
    assert [item["kind"] for item in dropped] == ["boilerplate"]
    # a loop again: nothing of it is kept, not even its clean lines
    looped = good[:1] + [seg(264.0, 300.0, LOOP_TEXT)]
    verdict, new, dropped = outcome(span, looped, [], None, options)
    assert (verdict, new, [item["kind"] for item in dropped]) == ("looped again", [], ["loop"])
    # no text at all (the decoder heard nothing), or only text outside the span
    assert outcome(span, [], [], None, options)[:2] == ("no text", [])
    assert outcome(span, [seg(320.0, 323.0, "Elsewhere.")], [], None, options)[:2] == \
        ("no text", [])
