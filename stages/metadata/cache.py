"""The on-disk answer cache of a metadata service: one JSON file per entry,
``<folder>/<kind>/<name>.json`` = ``{"fetched_at": ISO time, "data": ...}``, written atomically.

An entry older than ``max_age_days`` is *stale*: the caller tries to fetch it again and keeps
using it when that fails. A damaged file (not JSON, wrong shape, bad date) is a miss with a
warning, and the next successful fetch overwrites it. A cache that cannot be written (read-only
disk) is a warning, never a failure. No key, header or URL is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from shared import atomic

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def normalise(text: str) -> str:
    """A query as the cache keys it: NFC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def query_key(*parts: object) -> str:
    """The sha256 of the normalised query parts ("Lagaan", 2001, "en-US")."""
    text = "\x1f".join(normalise(str(p)) if p is not None else "" for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Entry:
    data: Any
    fetched_at: datetime
    stale: bool


class JsonCache:
    def __init__(self, folder: str | Path | None, max_age_days: float,
                 warnings: list[str]) -> None:
        self.folder = Path(folder) if folder else None
        self.max_age = timedelta(days=max_age_days)
        self.warnings = warnings

    def path(self, kind: str, name: str) -> Path:
        assert self.folder is not None
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unsafe cache entry name {name!r}")
        return self.folder / kind / f"{name}.json"

    def get(self, kind: str, name: str) -> Entry | None:
        if self.folder is None:
            return None
        path = self.path(kind, name)
        try:
            raw = json.loads(path.read_text("utf-8"))
            fetched = datetime.fromisoformat(raw["fetched_at"])
            if fetched.tzinfo is None:
                fetched = fetched.replace(tzinfo=timezone.utc)
            data = raw["data"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            self._warn(f"ignoring the damaged cache file {path} ({type(e).__name__}: {e}); "
                       "it will be fetched again")
            return None
        stale = datetime.now(timezone.utc) - fetched > self.max_age
        return Entry(data=data, fetched_at=fetched, stale=stale)

    def put(self, kind: str, name: str, data: Any) -> None:
        if self.folder is None:
            return
        path = self.path(kind, name)
        record = {"fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "data": data}
        try:
            atomic.write_json(path, record)
        except OSError as e:
            self._warn(f"could not write the cache file {path} ({e})")

    def damaged(self, kind: str, name: str, reason: str) -> None:
        """The caller found an entry of the wrong shape: a miss, with a warning."""
        self._warn(f"ignoring the damaged cache file {self.path(kind, name)} ({reason}); "
                   "it will be fetched again")

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        self.warnings.append(message)
