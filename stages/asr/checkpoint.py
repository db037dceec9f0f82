"""Resuming the asr stage inside the stage. After each decoded chunk, ``checkpoint.json`` (next
to segments.jsonl) records the run's fingerprint (the runner's: params, models, inputs, code),
the chunk plan with each chunk's language, the language decisions, how many chunks are done
and where segments.jsonl ends after them; it is written atomically after segments.jsonl is
synced. A re-run with the same fingerprint keeps segments.jsonl up to that point (a chunk cut
off by the crash is dropped) and decodes from the next chunk; a checkpoint of any other run is
ignored and replaced; a finished run removes it. The segments stay in segments.jsonl only, so
a checkpoint costs the same small write after every chunk of a 2-hour film."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from shared import atomic

logger = logging.getLogger("stages.asr")

FILE = "checkpoint.json"
# segments.json fields decided before decoding (language detection, per-region plan) or
# counted while decoding: a resumed run keeps them instead of detecting again
DECIDED = ("language", "language_probability", "language_candidates", "language_detection",
           "multilingual", "decode_passes", "speech_chunks", "speech_decoded_s")


@dataclass
class Checkpoint:
    path: Path
    fingerprint: str | None  # None: the request has none, nothing is kept or resumed
    chunks: list[Any] = field(default_factory=list)  # [[groups, language]], JSON-shaped
    done: int = 0  # chunks finished
    speech_done_s: float = 0.0
    jsonl_bytes: int = 0  # segments.jsonl's length after the finished chunks
    segments: int = 0  # its records after the finished chunks
    decided: dict[str, Any] = field(default_factory=dict)

    def save(self, stream: BinaryIO, result: dict) -> None:
        """Record one more finished chunk: segments.jsonl first (synced), then the checkpoint."""
        if self.fingerprint is None:
            return
        stream.flush()
        os.fsync(stream.fileno())
        self.jsonl_bytes = stream.tell()
        self.segments = len(result["segments"])
        self.decided = {k: result[k] for k in DECIDED if k in result}
        atomic.write_json(self.path, {
            "fingerprint": self.fingerprint, "chunks": self.chunks, "done": self.done,
            "speech_done_s": round(self.speech_done_s, 3), "jsonl_bytes": self.jsonl_bytes,
            "segments": self.segments, "decided": self.decided})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def load(path: Path, fingerprint: str | None, jsonl: Path) -> tuple[Checkpoint, list[dict]]:
    """The checkpoint to continue from, and the segment records of its finished chunks; a
    fresh one (and no records) when there is none, or it belongs to another run, or
    segments.jsonl no longer holds what it recorded."""
    fresh = Checkpoint(path, fingerprint)
    if fingerprint is None or not path.is_file():
        return fresh, []
    try:
        state = json.loads(path.read_text("utf-8"))
        if state["fingerprint"] != fingerprint:
            logger.info("a checkpoint of a run with other params, models, inputs or code: "
                        "starting from the first chunk")
            return fresh, []
        checkpoint = Checkpoint(path, fingerprint, state["chunks"], state["done"],
                                state["speech_done_s"], state["jsonl_bytes"],
                                state["segments"], state["decided"])
        with open(jsonl, "rb") as stream:
            kept = stream.read(checkpoint.jsonl_bytes)
        records = [json.loads(line) for line in kept.decode("utf-8").splitlines()]
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("unusable checkpoint %s (%s): starting from the first chunk", path, e)
        return fresh, []
    if len(kept) != checkpoint.jsonl_bytes or len(records) != checkpoint.segments:
        logger.warning("segments.jsonl is shorter than the checkpoint says: starting from the "
                       "first chunk")
        return fresh, []
    return checkpoint, records
