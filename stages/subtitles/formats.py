"""Writing cues as SRT, WebVTT and ASS with pysubs2, and reading them back.

pysubs2 writes event text as it is given, so the text is escaped here, per format, so that
what was said is shown and never interpreted as markup:
  ASS     ``{`` ``}`` become ``\\{`` ``\\}`` (libass and ffmpeg's escapes); a backslash is
          followed by a WORD JOINER (U+2060, invisible) so ``\\N`` in speech stays text
  SRT     ``<`` and ``\\`` are followed by a WORD JOINER: ``<i>`` is no tag for a player
          (SRT has no escape syntax) and ``\\N`` is no line break for pysubs2
  WebVTT  ``&`` ``<`` ``>`` become ``&amp;`` ``&lt;`` ``&gt;`` (the WebVTT escapes); a
          backslash as in SRT
Lyrics (segments marked ``lyrics``) are italic with a note (♪) at both ends: the ASS
"Lyrics" style, ``<i>`` in SRT and WebVTT."""

from __future__ import annotations

from typing import Any

from shared.subtitle_text import LYRICS_STYLE, NOTE, escape
from stages.subtitles.cues import Cue

FORMATS = ("srt", "vtt", "ass")
SOURCE_STYLE = "Source"




def _lines(cue: Cue, fmt: str, bilingual: bool, wrap_source) -> list[str]:
    lines = [escape(line, fmt) for line in cue.lines]
    if cue.lyrics and lines:
        lines[0] = f"{NOTE} {lines[0]}"
        lines[-1] = f"{lines[-1]} {NOTE}"
        if fmt != "ass":
            lines[0] = f"<i>{lines[0]}"
            lines[-1] = f"{lines[-1]}</i>"
    if bilingual and cue.source_text:
        source = [escape(line, fmt) for line in wrap_source(cue.source_text)]
        if fmt == "ass":
            source[0] = "{\\r" + SOURCE_STYLE + "}" + source[0]
            lines[0] = "{\\r}" + lines[0]
        lines = source + lines
    return lines


def build(cues: list[Cue], fmt: str, *, title: str = "", bilingual: bool = False,
          wrap_source=None):
    """A pysubs2.SSAFile holding ``cues`` with text prepared for ``fmt``."""
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info.update({"Title": title, "PlayResX": "1920", "PlayResY": "1080",
                      "WrapStyle": "2", "ScaledBorderAndShadow": "yes"})
    base = pysubs2.SSAStyle(fontname="Noto Sans", fontsize=56, outline=2.5, shadow=1,
                            marginv=60, marginl=120, marginr=120)
    subs.styles["Default"] = base
    subs.styles[LYRICS_STYLE] = base.copy()
    subs.styles[LYRICS_STYLE].italic = True
    subs.styles[SOURCE_STYLE] = base.copy()
    subs.styles[SOURCE_STYLE].fontsize = 46
    subs.styles[SOURCE_STYLE].primarycolor = pysubs2.Color(225, 225, 150)
    for cue in cues:
        text = "\\N".join(_lines(cue, fmt, bilingual, wrap_source))
        style = LYRICS_STYLE if cue.lyrics and fmt == "ass" else "Default"
        subs.append(pysubs2.SSAEvent(start=cue.start, end=cue.end, text=text, style=style))
    return subs


def render(cues: list[Cue], fmt: str, **kwargs: Any) -> str:
    subs = build(cues, fmt, **kwargs)
    if fmt == "ass":
        return subs.to_string("ass")
    return subs.to_string(fmt, keep_ssa_tags=True)  # text as prepared, no tag conversion
