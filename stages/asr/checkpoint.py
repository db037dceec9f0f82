"""Resuming the asr stage inside the stage (shared.checkpoint): after each decoded chunk,
``checkpoint.json`` (next to segments.jsonl, asr's records file) records, besides the run's
fingerprint and how many chunks are done, the chunk plan with each chunk's language and the
language decisions. A re-run with the same fingerprint keeps segments.jsonl up to the last
finished chunk and decodes from the next one without detecting the language again. The
segments stay in segments.jsonl only, so a checkpoint costs the same small write after every
chunk of a 2-hour film."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from shared import checkpoint as shared_checkpoint

FILE = shared_checkpoint.FILE
# segments.json fields decided before decoding (language detection, per-region plan) or
# counted while decoding: a resumed run keeps them instead of detecting again
DECIDED = ("language", "language_probability", "language_candidates", "language_detection",
           "multilingual", "decode_passes", "speech_chunks", "speech_decoded_s")


@dataclass
class Checkpoint(shared_checkpoint.Checkpoint):
    chunks: list[Any] = field(default_factory=list)  # [[groups, language]], JSON-shaped
    speech_done_s: float = 0.0
    decided: dict[str, Any] = field(default_factory=dict)

    UNIT = "chunk"

    def state(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "speech_done_s": round(self.speech_done_s, 3),
                "decided": self.decided}

    def restore(self, state: dict[str, Any]) -> None:
        self.chunks, self.speech_done_s = state["chunks"], state["speech_done_s"]
        self.decided = state["decided"]

    def save(self, stream: BinaryIO | None = None, result: Any = None) -> None:
        """Record one more finished chunk: segments.jsonl first (synced), then the checkpoint
        with the language decisions so far (``result``: segments.json being built)."""
        self.decided = {k: result[k] for k in DECIDED if k in result}
        super().save(stream, len(result["segments"]))


def load(path: Path, fingerprint: str | None, jsonl: Path) -> tuple[Checkpoint, list[dict]]:
    """The checkpoint to continue from, and the segment records of its finished chunks; a
    fresh one (and no records) when there is none, or it belongs to another run, or
    segments.jsonl no longer holds what it recorded."""
    return shared_checkpoint.load(Checkpoint(path, fingerprint), jsonl)
