"""The on-disk response cache: a validated reply per (provider, model, prompt), so a re-run
of the same lines costs nothing. Files are written atomically; a damaged file is a miss.
No key, header or credential is stored: only the lines the model returned."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from shared import atomic

logger = logging.getLogger(__name__)

CACHE_VERSION = 1


def key(provider: str, model: str, system: str, user: str) -> str:
    payload = json.dumps([CACHE_VERSION, provider, model, system, user], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None

    def _path(self, digest: str) -> Path:
        assert self.folder is not None
        return self.folder / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> list[dict] | None:
        if self.folder is None:
            return None
        path = self._path(digest)
        try:
            data = json.loads(path.read_text("utf-8"))
            lines = data["lines"]
            if not isinstance(lines, list):
                raise TypeError("lines is not a list")
            return lines
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("ignoring damaged cache entry %s (%s)", path.name, e)
            return None

    def put(self, digest: str, provider: str, model: str, lines: list[dict]) -> None:
        if self.folder is None:
            return
        try:
            atomic.write_json(self._path(digest), {"version": CACHE_VERSION,
                                                   "provider": provider, "model": model,
                                                   "lines": lines})
        except OSError as e:  # a read-only cache must not fail the job
            logger.warning("could not write the LLM cache (%s): %s", self.folder, e)
