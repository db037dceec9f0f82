"""What a subtitle file's text means, shared by the subtitles stage (which writes the files)
and the report (which reads them back): the per-format escapes, the lyrics mark, reading a
written file back into cues, and the reading units of a line (grapheme clusters)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex

WJ = "\u2060"
NOTE = "♪"
LYRICS_STYLE = "Lyrics"
_CLUSTER = regex.compile(r"\X")


@lru_cache(maxsize=1 << 16)
def graphemes(text: str) -> int:
    """Reading units: extended grapheme clusters (स्ते, क्ष and é are one each)."""
    return len(_CLUSTER.findall(text))


def escape(text: str, fmt: str) -> str:
    if fmt == "ass":
        return text.replace("\\", "\\" + WJ).replace("{", "\\{").replace("}", "\\}")
    text = text.replace("\\", "\\" + WJ)
    if fmt == "vtt":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("<", "<" + WJ)


def unescape(text: str, fmt: str) -> str:
    if fmt == "ass":
        text = text.replace("\\{", "{").replace("\\}", "}")
    elif fmt == "vtt":
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    else:
        text = text.replace("<" + WJ, "<")
    return text.replace("\\" + WJ, "\\")


def read(path: Path) -> list[dict[str, Any]]:
    """Cues of a file the subtitles stage wrote: start, end (ms), lines, lyrics."""
    import pysubs2

    fmt = path.suffix.lstrip(".").lower()
    kwargs = {} if fmt == "ass" else {"keep_html_tags": True}
    subs = pysubs2.load(str(path), encoding="utf-8", **kwargs)
    out = []
    for event in subs:
        text = event.text
        lyrics = event.style == LYRICS_STYLE if fmt == "ass" else False
        if fmt != "ass" and text.startswith(f"<i>{NOTE} ") and text.endswith(f" {NOTE}</i>"):
            text, lyrics = text[len(f"<i>{NOTE} "):-len(f" {NOTE}</i>")], True
        elif lyrics:
            text = re.sub(rf"^{NOTE} | {NOTE}$", "", text)
        lines = [unescape(line, fmt) for line in text.split("\\N")]
        out.append({"start": event.start, "end": event.end, "lines": lines, "lyrics": lyrics})
    return out
