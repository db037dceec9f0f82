"""Names of the files a job writes for the user."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_title(title: str) -> str:
    """The job title as a file name on every OS (subtitles, the muxed video)."""
    cleaned = _UNSAFE.sub("_", title).strip(" ._")
    return cleaned[:120] or "subtitles"
