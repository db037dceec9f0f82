"""sha256 of files, memoised by (inode, mtime_ns, size) so a re-run does not re-read a
two-hour film to learn that nothing changed (the DVC approach)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from shared import atomic

_CHUNK = 8 * 2**20


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks (the one place this is written)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashMemo:
    def __init__(self, memo_file: Path | None = None) -> None:
        self.memo_file = memo_file
        self._entries: dict[str, list] = {}
        self._dirty = False
        if memo_file and memo_file.is_file():
            try:
                self._entries = json.loads(memo_file.read_text("utf-8"))
            except (ValueError, OSError):
                self._entries = {}

    def sha256(self, path: Path) -> str:
        path = Path(path).resolve()
        st = path.stat()
        key = str(path)
        stamp = [st.st_ino, st.st_mtime_ns, st.st_size]
        entry = self._entries.get(key)
        if entry and entry[:3] == stamp:
            return entry[3]
        digest = sha256_file(path)
        self._entries[key] = [*stamp, digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        if self.memo_file and self._dirty:
            atomic.write_json(self.memo_file, self._entries)
            self._dirty = False
