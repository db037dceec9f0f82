"""translation_llm's checkpoint inside the stage (shared.checkpoint): after each finished
block, its lines (or null: the draft stands) are appended to ``blocks.jsonl`` and
``checkpoint.json`` records the blocks done and the usage so far (requests, tokens, cache
hits, warnings). A re-run of the same stage (the runner's fingerprint unchanged) keeps the
finished blocks without asking the LLM or the cache again and goes on from the next one:
segments.json and usage.json equal those of a run that was never interrupted. Once the LLM
is unavailable nothing more is recorded, so a re-run asks again from the block where it
went away. A finished run removes both files."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from shared import checkpoint as shared_checkpoint
from shared.stage import StageRequest
from stages.translation_llm.budget import Usage

logger = logging.getLogger("stages.translation_llm")

RECORDS = "blocks.jsonl"
# Usage fields a block changes: restored on resume (lines_* are set by the stage itself)
KEPT = ("requests", "failed_requests", "input_tokens", "output_tokens", "cache_hits", "blocks",
        "blocks_from_llm", "blocks_kept_draft", "budget_exhausted", "last_problem", "warnings")


@dataclass
class Checkpoint(shared_checkpoint.Checkpoint):
    usage: dict[str, Any] = field(default_factory=dict)
    rejected_in_a_row: int = 0

    UNIT = "block"

    def state(self) -> dict[str, Any]:
        return {"usage": self.usage, "rejected_in_a_row": self.rejected_in_a_row}

    def restore(self, state: dict[str, Any]) -> None:
        self.usage = {k: state["usage"][k] for k in KEPT}
        self.rejected_in_a_row = int(state["rejected_in_a_row"])


class Blocks:
    """The blocks of one stage run as the block loop finishes them (stages.translation_llm.
    blocks.Translator calls ``resume`` once, then ``done`` after each block)."""

    def __init__(self, request: StageRequest) -> None:
        self.request = request
        self.checkpoint, self.records = shared_checkpoint.load(
            Checkpoint(request.output(shared_checkpoint.FILE), request.fingerprint),
            request.output(RECORDS))
        self.stream: BinaryIO | None = None

    def resume(self, total: int, usage: Usage) -> tuple[int, dict[int, str], int]:
        """(blocks already done, their lines, refused requests in a row), with ``usage`` as it
        was after them."""
        saved = self.checkpoint
        translated: dict[int, str] = {}
        for record in self.records:
            translated.update({int(i): text for i, text in (record or {}).items()})
        if saved.done:
            for name, value in saved.usage.items():
                setattr(usage, name, value)
            logger.info("resuming after block %d of %d (%d lines already translated, %d "
                        "request(s) made)", saved.done, total, len(translated), usage.requests)
        self.stream = saved.open_records(self.request.output(RECORDS))
        return saved.done, translated, saved.rejected_in_a_row

    def done(self, number: int, lines: dict[int, str] | None, usage: Usage,
             rejected_in_a_row: int) -> None:
        """Block ``number`` (1-based) finished with ``lines`` (None: the draft stands)."""
        if usage.unavailable is not None or self.stream is None:
            return  # a re-run asks again from here
        record = None if lines is None else {str(i): t for i, t in lines.items()}
        self.stream.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        saved = self.checkpoint
        saved.done, saved.rejected_in_a_row = number, rejected_in_a_row
        saved.usage = {k: getattr(usage, k) for k in KEPT}
        saved.save(self.stream, number)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


def finish(request: StageRequest) -> None:
    """segments.json and usage.json are written: the checkpoint is no longer needed."""
    request.output(shared_checkpoint.FILE).unlink(missing_ok=True)
    request.output(RECORDS).unlink(missing_ok=True)
