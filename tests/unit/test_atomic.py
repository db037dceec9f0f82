"""shared/atomic.py: a file written through a temporary name gets the mode a plain open()
would give it (0666 less the umask, or the mode of the file it replaces), never mkstemp's
0600, so a media server or a colleague running as another user can read the outputs."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path

import pytest

from shared import atomic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_file_gets_the_umasks_mode(tmp_path, mask, expected):
    with umask(mask):
        assert atomic.current_umask() == mask
        atomic.write_text(tmp_path / "job.json", "{}\n")
        atomic.write_json(tmp_path / "sub" / "lock.json", {"a": 1})
        with atomic.atomic_path(tmp_path / "film.en.srt") as tmp:
            tmp.write_text("1\n", "utf-8")
    for name in ("job.json", "sub/lock.json", "film.en.srt"):
        assert mode(tmp_path / name) == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.en.srt", "job.json", "sub"]


@pytest.mark.parametrize("mask", [0o022, 0o027])
@pytest.mark.parametrize("existing", [0o644, 0o640, 0o664])
def test_a_replaced_file_keeps_its_mode(tmp_path, mask, existing):
    target = tmp_path / "film.hi.srt"
    target.write_text("old", "utf-8")
    target.chmod(existing)
    with umask(mask):
        atomic.write_text(target, "new")
    assert target.read_text("utf-8") == "new"
    assert mode(target) == existing


def test_publish_gives_a_file_another_program_wrote_the_umasks_mode(tmp_path):
    """As mux does with ffmpeg's .partial file: written 0600 by the writer, renamed readable."""
    tmp = tmp_path / ".film.subtitled.mkv.partial"
    tmp.write_bytes(b"video")
    tmp.chmod(0o600)
    with umask(0o022):
        atomic.publish(tmp, tmp_path / "film.subtitled.mkv")
    assert not tmp.exists()
    assert mode(tmp_path / "film.subtitled.mkv") == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "job.json"
    target.write_text("old", "utf-8")
    target.chmod(0o640)
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half", "utf-8")
        raise RuntimeError("crash")
    assert target.read_text("utf-8") == "old" and mode(target) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]
