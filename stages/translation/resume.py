"""translation's checkpoint inside the stage (shared.checkpoint): the units are translated in
blocks of ``translation.block_size``; each finished block's translations are appended to
``translated.jsonl`` (one line per unit: text and confidence) and ``checkpoint.json`` records
the blocks done and the generate calls they took. A re-run of the same stage (the runner's
fingerprint unchanged) keeps the finished blocks and translates the rest: segments.json
equals that of a run that was never interrupted (a block is batched alone, so where a run
starts does not change how a unit is batched). A finished run removes both files."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from shared import checkpoint as shared_checkpoint
from shared.stage import StageRequest, report_progress
from stages.translation.engine import LanguagePair, Translation

logger = logging.getLogger("stages.translation")

RECORDS = "translated.jsonl"


@dataclass
class Checkpoint(shared_checkpoint.Checkpoint):
    blocks: int = 0  # in the whole run
    generate_calls: int = 0  # of the finished blocks

    UNIT = "block"

    def state(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "generate_calls": self.generate_calls}

    def restore(self, state: dict[str, Any]) -> None:
        self.blocks, self.generate_calls = int(state["blocks"]), int(state["generate_calls"])


def translate(engine, texts: list[str], pair: LanguagePair, request: StageRequest,
              block_size: int) -> tuple[list[Translation], int, dict[str, int]]:
    """Every text translated, block by block after the blocks a checkpoint of this run kept:
    (translations in order, generate calls of the whole run, counts for result.json)."""
    blocks = math.ceil(len(texts) / block_size)
    saved, records = shared_checkpoint.load(
        Checkpoint(request.output(shared_checkpoint.FILE), request.fingerprint),
        request.output(RECORDS))
    outputs = [Translation(r["text"], r["confidence"]) for r in records]
    if saved.done:
        logger.info("resuming after block %d of %d (%d of %d units already translated)",
                    saved.done, blocks, len(outputs), len(texts))
    saved.blocks, first = blocks, saved.done
    report_progress(len(outputs), len(texts), "translating")
    with saved.open_records(request.output(RECORDS)) as stream:
        for n in range(first, blocks):
            before = engine.generate_calls
            part = engine.translate(texts[n * block_size:(n + 1) * block_size], pair)
            for out in part:
                line = {"text": out.text, "confidence": out.confidence}
                stream.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
            outputs += part
            saved.done, saved.generate_calls = n + 1, saved.generate_calls + \
                engine.generate_calls - before
            saved.save(stream, len(outputs))
            report_progress(len(outputs), len(texts), f"block {n + 1}/{blocks}")
    return outputs, saved.generate_calls, {"blocks": blocks, "resumed_after_block": first,
                                           "blocks_translated": blocks - first}


def finish(request: StageRequest) -> None:
    """segments.json is written: the checkpoint and its records are no longer needed."""
    request.output(shared_checkpoint.FILE).unlink(missing_ok=True)
    request.output(RECORDS).unlink(missing_ok=True)
