"""The block loop: for each block of lines, the cached reply or a request (asked again when
the reply is invalid), within the budget; the draft stands for every block that gets no
valid reply. Stops calling the LLM, for the rest of the job, once it is unavailable or the
budget is reached."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stages.translation_llm import prompt, reply
from stages.translation_llm.budget import Usage
from stages.translation_llm.cache import ResponseCache, key
from stages.translation_llm.providers import BlockRejected, Client, Unavailable
from stages.translation_llm.resume import Blocks

if TYPE_CHECKING:
    from shared.transcript import Line

logger = logging.getLogger(__name__)

MAX_REJECTED_IN_A_ROW = 3


@dataclass
class Block:
    lines: list[prompt.Line]
    context: list[prompt.Line]

    @property
    def ids(self) -> list[int]:
        return [line.id for line in self.lines]

    @property
    def label(self) -> str:
        ids = self.ids
        return f"ids {ids[0]}-{ids[-1]}" if len(ids) > 1 else f"id {ids[0]}"


def plan(segments: list[Line], chosen: list[int], lines: dict[int, prompt.Line],
         block_size: int, context_lines: int) -> list[Block]:
    """Blocks of ``block_size`` chosen lines in order, each with the lines within
    ``context_lines`` of any of them (not themselves) as context."""
    index = {s.id: i for i, s in enumerate(segments)}
    blocks = []
    for start in range(0, len(chosen), block_size):
        ids = chosen[start:start + block_size]
        near: set[int] = set()
        for line_id in ids:
            at = index[line_id]
            near.update(range(max(0, at - context_lines), min(len(segments),
                                                              at + context_lines + 1)))
        taken = set(ids)
        context = [lines[segments[i].id] for i in sorted(near) if segments[i].id not in taken]
        blocks.append(Block([lines[i] for i in ids], context))
    return blocks


@dataclass
class Translator:
    provider: str
    model: str
    system: str
    render: Callable[[Block], str]  # the user prompt of a block
    cache: ResponseCache
    usage: Usage
    connect: Callable[[], Client]  # raises Unavailable (no key ...)
    repair_attempts: int
    checkpoint: Blocks | None = None  # finished blocks kept for a re-run (resume.Blocks)

    def __post_init__(self) -> None:
        self._client: Client | None = None
        self._rejected_in_a_row = 0

    @property
    def stopped(self) -> bool:
        return self.usage.unavailable is not None or self.usage.budget_exhausted

    def run(self, blocks: list[Block]) -> dict[int, str]:
        first, translated = 0, {}
        if self.checkpoint is not None:  # the blocks a killed run of the same stage finished
            first, translated, self._rejected_in_a_row = self.checkpoint.resume(len(blocks),
                                                                                self.usage)
        for number, block in enumerate(blocks[first:], first + 1):
            self.usage.blocks += 1
            result = self._block(block, f"block {number}/{len(blocks)} {block.label}")
            if result is None:
                self.usage.blocks_kept_draft += 1
            else:
                translated.update(result)
            if self.checkpoint is not None:
                self.checkpoint.done(number, result, self.usage, self._rejected_in_a_row)
        if self.checkpoint is not None:
            self.checkpoint.close()
        return translated

    def _block(self, block: Block, label: str) -> dict[int, str] | None:
        user = self.render(block)
        digest = key(self.provider, self.model, self.system, user)
        cached = self.cache.get(digest)
        if cached is not None:
            try:
                result = reply.validate(cached, block.ids)
            except reply.InvalidReply:
                result = None
            if result is not None:
                self.usage.cache_hits += 1
                logger.info("%s: %d lines, cached", label, len(block.ids))
                return result
        note = ""
        for _attempt in range(1 + self.repair_attempts):
            if not self._may_call(label):
                return None
            try:
                answer = self._call(user + note)
            except Unavailable as e:
                self.usage.failed_requests += 1
                self.usage.unavailable = str(e)
                logger.warning("%s: llm unavailable: %s", label, e)
                return None
            except BlockRejected as e:
                self.usage.failed_requests += 1
                self.usage.last_problem = f"request refused: {e}"
                self._rejected_in_a_row += 1
                self._warn(f"{label}: {e}; draft kept")
                if self._rejected_in_a_row >= MAX_REJECTED_IN_A_ROW:
                    self.usage.unavailable = f"{self._rejected_in_a_row} requests in a row " \
                        f"refused, last: {e}"
                return None
            self._rejected_in_a_row = 0
            self.usage.add(answer.input_tokens, answer.output_tokens)
            try:
                result = reply.parse(answer.text, block.ids)
            except reply.InvalidReply as e:
                problem = str(e) + (" (the reply was cut off: raise translation_llm."
                                    "max_output_tokens or lower block_size)"
                                    if answer.truncated else "")
                logger.warning("%s: invalid reply: %s", label, problem)
                self.usage.last_problem = problem
                note = prompt.repair_note(problem, block.ids)
                continue
            logger.info("%s: %d lines, %d+%d tokens", label, len(block.ids),
                        answer.input_tokens, answer.output_tokens)
            self.cache.put(digest, self.provider, self.model,
                           [{"id": i, "text": t} for i, t in result.items()])
            self.usage.blocks_from_llm += 1
            return result
        self._warn(f"{label}: no valid reply after {1 + self.repair_attempts} tries; "
                   "draft kept")
        return None

    def _may_call(self, label: str) -> bool:
        if self.usage.unavailable is not None:
            return False
        if self.usage.over_budget():
            if not self.usage.budget_exhausted:
                self.usage.budget_exhausted = True
                if self.usage.price is None:
                    self._warn(f"budget ${self.usage.budget_usd} set but the cost of "
                               f"{self.model} is unknown: no request sent (set translation_llm."
                               "price_input_per_mtok and price_output_per_mtok)")
                else:
                    self._warn(f"budget ${self.usage.budget_usd} reached "
                               f"(${self.usage.cost_usd or 0:.4f}) at {label}: the draft "
                               "stands for the remaining lines")
            return False
        return True

    def _call(self, user: str):
        if self._client is None:
            self._client = self.connect()
        return self._client.complete(self.system, user)

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        self.usage.warnings.append(message)
