"""Resuming a long stage inside the stage, after the last finished piece of work (asr's
chunks, source_separation's windows, translation's and translation_llm's blocks).

After each finished piece, ``checkpoint.json`` in the stage folder records the run's
fingerprint (the runner's: params, models, inputs, code; ``StageRequest.fingerprint``), how
many pieces are done, and where the stage's append-only JSON-lines file ends after them (the
stage's finished records: asr's segments, a translation block's lines); the file is synced
before the checkpoint is written atomically. A stage adds what else it must keep (``state`` /
``restore``). A re-run with the same fingerprint keeps the records up to that point (a piece
cut off by the crash is dropped) and goes on from the next piece; a checkpoint of any other
run is ignored and replaced; a finished run removes it. Without a fingerprint (a stage run by
hand) nothing is kept or resumed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from shared import atomic

logger = logging.getLogger("stages.checkpoint")

FILE = "checkpoint.json"


@dataclass
class Checkpoint:
    path: Path
    fingerprint: str | None  # None: the request has none, nothing is kept or resumed
    done: int = 0  # pieces finished
    jsonl_bytes: int = 0  # the records file's length after the finished pieces
    records: int = 0  # its lines after the finished pieces

    UNIT = "piece"  # what the log calls a piece: "chunk", "block"

    def state(self) -> dict[str, Any]:
        """What else the stage keeps (JSON-shaped)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what ``state`` gave; raise KeyError/TypeError/ValueError when unusable."""

    def save(self, stream: BinaryIO | None = None, records: int | None = None) -> None:
        """Record the pieces done so far: the records file (``stream``) synced first, then the
        checkpoint written atomically. Files of the stage's own are synced by the stage."""
        if self.fingerprint is None:
            return
        if stream is not None:
            sync(stream)
            self.jsonl_bytes = stream.tell()
            self.records = self.records if records is None else records
        atomic.write_json(self.path, {
            "fingerprint": self.fingerprint, "done": self.done, "jsonl_bytes": self.jsonl_bytes,
            "records": self.records, **self.state()})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def open_records(self, jsonl: Path) -> BinaryIO:
        """The records file, cut after the finished pieces and open for appending (a fresh
        run: emptied)."""
        stream = open(jsonl, "r+b" if self.done else "wb")  # noqa: SIM115 - the caller closes
        stream.truncate(self.jsonl_bytes)
        stream.seek(self.jsonl_bytes)
        return stream


def sync(stream: Any) -> None:
    """Flush a Python file (or a soundfile.SoundFile) and fsync it."""
    stream.flush()
    fileno = getattr(stream, "fileno", None)
    if fileno is not None:
        os.fsync(fileno())


C = TypeVar("C", bound=Checkpoint)


def load(fresh: C, jsonl: Path | None = None) -> tuple[C, list[dict]]:
    """``fresh`` filled from its file, and the records of its finished pieces, when the file
    was written under the same fingerprint and the records file still holds what it
    recorded; else ``fresh`` as it is (nothing done) and no records, saying why."""
    path, fingerprint, unit = fresh.path, fresh.fingerprint, fresh.UNIT
    if fingerprint is None or not path.is_file():
        return fresh, []
    records: list[dict] = []
    try:
        state = json.loads(path.read_text("utf-8"))
        if state.pop("fingerprint") != fingerprint:
            logger.info("a checkpoint of a run with other params, models, inputs or code: "
                        "starting from the first %s", unit)
            return fresh, []
        kind = type(fresh)
        saved = kind(path, fingerprint, state.pop("done"), state.pop("jsonl_bytes"),
                     state.pop("records"))
        saved.restore(state)
        kept = b""
        if jsonl is not None:
            with open(jsonl, "rb") as stream:
                kept = stream.read(saved.jsonl_bytes)
            records = [json.loads(line) for line in kept.decode("utf-8").splitlines()]
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("unusable checkpoint %s (%s): starting from the first %s", path, e, unit)
        return fresh, []
    if jsonl is not None and (len(kept) != saved.jsonl_bytes or len(records) != saved.records):
        logger.warning("%s is shorter than the checkpoint says: starting from the first %s",
                       jsonl.name, unit)
        return fresh, []
    return saved, records
