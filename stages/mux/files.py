"""Output names that never overwrite a user's file.

The stage records what it wrote (name, size, mtime, sha256) in ``mux_manifest.json`` in its
stage folder. A file at the wanted name is replaced only when it is one this stage wrote and
unchanged since; anything else (the user's own file, an edited copy) keeps its name and the
new file gets the next free one: ``T.subtitled.mkv``, ``T.subtitled.1.mkv``, ...
"""

from __future__ import annotations

import json
import logging
import os
from itertools import count
from pathlib import Path

from shared import atomic
from shared.file_hashes import sha256_file

logger = logging.getLogger(__name__)

MANIFEST = "mux_manifest.json"


class Manifest:
    """The files this stage wrote, by name (relative to their folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.files: dict[str, dict] = json.loads(path.read_text("utf-8")).get("files", {})
        except (OSError, ValueError):
            self.files = {}

    def owns(self, path: Path) -> bool:
        """Whether ``path`` is a file this stage wrote, unchanged since (size and mtime
        first; the hash only when they differ, so a film is not re-read on every run)."""
        record = self.files.get(path.name)
        if not record or path.is_symlink() or not path.is_file():
            return False
        stat = path.stat()
        if stat.st_size != record.get("size"):
            return False
        if stat.st_mtime_ns == record.get("mtime_ns"):
            return True
        return sha256_file(path) == record.get("sha256")

    def record(self, path: Path, sha256: str | None = None) -> None:
        stat = path.stat()
        self.files[path.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                 "sha256": sha256 or sha256_file(path)}
        atomic.write_json(self.path, {"files": self.files})


def free_target(folder: Path, stem: str, ext: str, manifest: Manifest) -> Path:
    """``folder/stem.ext`` unless something that is not ours is there; then ``stem.1.ext``,
    ``stem.2.ext`` ... (the first free name or the first one this stage wrote)."""
    for n in count():
        candidate = folder / (f"{stem}.{ext}" if n == 0 else f"{stem}.{n}.{ext}")
        if not os.path.lexists(candidate) or manifest.owns(candidate):
            if n:
                logger.warning("%s already exists and was not written by this stage: keeping "
                               "it, writing %s instead", folder / f"{stem}.{ext}",
                               candidate.name)
            return candidate
    raise AssertionError("unreachable")
