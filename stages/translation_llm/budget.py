"""Token usage, its estimated cost, and the budget that stops LLM use when reached.

Prices are data: US dollars per million input / output tokens, matched on the longest model
name prefix (a dated name such as claude-sonnet-4-5-20250929 takes claude-sonnet-4-5's). A
model not listed has an unknown cost (recorded as such); --set translation_llm.
price_input_per_mtok=... / price_output_per_mtok=... give it one. Check the providers' price
pages before relying on an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    # Anthropic
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    # OpenAI
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.0),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.0, 8.0),
}


def price_for(model: str, input_per_mtok: float | None = None,
              output_per_mtok: float | None = None) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens, or None when unknown."""
    if input_per_mtok is not None and output_per_mtok is not None:
        return input_per_mtok, output_per_mtok
    name = model.rsplit("/", 1)[-1].lower()
    matches = [key for key in PRICES_PER_MTOK if name.startswith(key)]
    if not matches:
        return None
    listed = PRICES_PER_MTOK[max(matches, key=len)]
    return (input_per_mtok if input_per_mtok is not None else listed[0],
            output_per_mtok if output_per_mtok is not None else listed[1])


@dataclass
class Usage:
    """What one job's LLM use cost; written as usage.json."""

    provider: str
    model: str
    price: tuple[float, float] | None
    budget_usd: float | None = None
    requests: int = 0
    failed_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_hits: int = 0
    blocks: int = 0
    blocks_from_llm: int = 0
    blocks_kept_draft: int = 0
    lines_selected: int = 0
    lines_translated: int = 0
    budget_exhausted: bool = False
    unavailable: str | None = None
    last_problem: str | None = None  # why the last unusable reply could not be used
    warnings: list[str] = field(default_factory=list)

    def add(self, input_tokens: int, output_tokens: int) -> None:
        self.requests += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    @property
    def cost_usd(self) -> float | None:
        if self.price is None:
            return None if self.requests else 0.0
        return (self.input_tokens * self.price[0] + self.output_tokens * self.price[1]) / 1e6

    def over_budget(self) -> bool:
        """True once the running estimate has reached the budget (an unknown price with a
        budget counts as reached: the spend could not be bounded)."""
        if self.budget_usd is None:
            return False
        if self.price is None:
            return True
        cost = self.cost_usd or 0.0
        return cost >= self.budget_usd

    def as_json(self) -> dict:
        cost = self.cost_usd
        return {
            "provider": self.provider, "model": self.model,
            "requests": self.requests, "failed_requests": self.failed_requests,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cache_hits": self.cache_hits,
            "estimated_cost_usd": None if cost is None else round(cost, 6),
            "cost_known": self.price is not None,
            "price_per_mtok": None if self.price is None else
            {"input": self.price[0], "output": self.price[1]},
            "budget_usd": self.budget_usd, "budget_exhausted": self.budget_exhausted,
            "blocks": self.blocks, "blocks_from_llm": self.blocks_from_llm,
            "blocks_kept_draft": self.blocks_kept_draft,
            "lines_selected": self.lines_selected, "lines_translated": self.lines_translated,
            "unavailable": self.unavailable, "last_problem": self.last_problem,
            "warnings": self.warnings,
        }
