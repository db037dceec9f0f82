"""Fixtures the end-to-end tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def media_file(speech, tmp_path) -> Path:
    """A copy of jfk.flac in a folder of its own: the user's media, which a test may check
    is never modified."""
    path = tmp_path / "media" / "jfk.flac"
    path.parent.mkdir()
    shutil.copyfile(speech / "jfk.flac", path)
    return path
