"""SRT / WebVTT / ASS writing (stages/subtitles/formats.py): every written file parses back
with pysubs2 to the same cues, and markup in the spoken text stays text."""

from __future__ import annotations

import re

import pysubs2
import pytest

from shared import subtitle_text
from stages.subtitles import formats
from stages.subtitles.cues import Cue

TRICKY = [
    Cue(1000, 2500, ["Hello", "there."], ["Hello there."]),
    Cue(2600, 5000, [], ["Use {\\an8} and {\\i1}x{\\i0}", "or <i>tags</i> & <b>bold</b>"]),
    Cue(5100, 7000, [], ["a \\N is not a break", "नमस्ते, क्षत्रिय स्त्री।"]),
    Cue(7100, 9990, [], ["la la la", "the song goes on"], lyrics=True),
    Cue(10000, 11000, [], ["x < y > z &amp; 1"]),
    Cue(11100, 12000, [], ["one sung line"], lyrics=True),
]


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_written_files_parse_back_to_the_same_cues(tmp_path, fmt):
    path = tmp_path / f"t.{fmt}"
    path.write_text(formats.render(TRICKY, fmt, title="T"), encoding="utf-8")
    back = subtitle_text.read(path)
    assert [(c["start"], c["end"], c["lines"], c["lyrics"]) for c in back] == [
        (c.start, c.end, c.lines, c.lyrics) for c in TRICKY]


def test_srt_markup_in_speech_is_not_interpreted(tmp_path):
    path = tmp_path / "t.srt"
    path.write_text(formats.render(TRICKY, "srt"), encoding="utf-8")
    raw = path.read_text("utf-8")
    assert "<i>tags" not in raw and "<b>" not in raw  # no tag a player would apply
    assert "<i>♪ la la la\nthe song goes on ♪</i>" in raw  # only the lyrics are italic
    events = pysubs2.load(str(path), encoding="utf-8")  # pysubs2's own reading
    assert "{\\i1}" not in events[1].text
    assert "tags" in events[1].plaintext and "&" in events[1].plaintext
    assert events[2].plaintext.splitlines()[0].startswith("a \\")  # \N stayed text


def test_vtt_uses_webvtt_escapes(tmp_path):
    path = tmp_path / "t.vtt"
    path.write_text(formats.render(TRICKY, "vtt"), encoding="utf-8")
    raw = path.read_text("utf-8")
    assert raw.startswith("WEBVTT")
    assert "&lt;i&gt;tags&lt;/i&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in raw
    assert "x &lt; y &gt; z &amp;amp; 1" in raw


def test_ass_escapes_braces_and_styles_lyrics(tmp_path):
    path = tmp_path / "t.ass"
    path.write_text(formats.render(TRICKY, "ass"), encoding="utf-8")
    subs = pysubs2.load(str(path), encoding="utf-8")
    assert subs.styles["Lyrics"].italic and not subs.styles["Default"].italic
    assert [e.style for e in subs] == ["Default"] * 3 + ["Lyrics", "Default", "Lyrics"]
    assert subs[5].text == "♪ one sung line ♪"
    assert subs[3].text.startswith("♪ ") and subs[3].text.endswith(" ♪")
    assert not re.search(r"(?<!\\)\{", subs[1].text)  # every brace escaped: no override
    assert subs[1].text.startswith("Use \\{\\")


def test_bilingual_variant_puts_the_source_over_the_target(tmp_path):
    cues = [Cue(0, 2000, ["I", "am", "here."], ["I am here."], source_text="मैं यहाँ हूँ।"),
            Cue(2100, 4000, ["Go", "{now}"], ["Go {now}"], source_text=None)]
    srt = formats.render(cues, "srt", bilingual=True, wrap_source=lambda t: [t])
    assert "मैं यहाँ हूँ।\nI am here." in srt
    ass = tmp_path / "b.ass"
    ass.write_text(formats.render(cues, "ass", bilingual=True, wrap_source=lambda t: [t]),
                   encoding="utf-8")
    subs = pysubs2.load(str(ass), encoding="utf-8")
    assert subs[0].text == "{\\rSource}मैं यहाँ हूँ।\\N{\\r}I am here."
    assert subs[0].plaintext == "मैं यहाँ हूँ।\nI am here."
    assert "Source" in subs.styles and subs[1].text == "Go \\{now\\}"
