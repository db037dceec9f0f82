"""Atomic file writes: write to a temporary name in the same folder, fsync, rename.

A crash leaves either the old file or the new one, never a half-written file. The file gets
the mode a plain ``open(target, "w")`` would give it: the replaced file's mode, or for a new
file 0666 less the umask (mkstemp's 0600 would hide outputs from a media server or a
colleague running as another user).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` when the block
    succeeds (a failure removes the temporary file and leaves ``target`` as it was)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        publish(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def publish(tmp: Path, target: Path) -> None:
    """Flush ``tmp`` to disk, give it the mode ``target`` should have and rename it over
    ``target``. For any file written under a temporary name (also by another program)."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    os.chmod(tmp, mode)
    os.replace(tmp, target)


def current_umask() -> int:
    """The process umask: read from /proc where the OS shows it (Linux 4.7+), else set and
    restored at once (os.umask is the only portable reader)."""
    try:
        for line in Path("/proc/self/status").read_text("ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")
