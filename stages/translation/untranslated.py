"""Lines left untranslated (segments.json rows with "origin": "untranslated"): the error that
keeps them from being shipped as a translation, or, when the user allowed them with
``--set translation.allow_untranslated=true``, the sentence that records the job as degraded.
Shared by the translation stage (NMT engines) and translation_llm (the LLM and its fallback).
Pure Python and pydantic: imports in every venv."""

from __future__ import annotations

from shared.errors import PipelineError
from shared.transcript import Line

ORIGIN = "untranslated"
ALLOW = "--set translation.allow_untranslated=true"
NOT_TRANSLATABLE = ("passthrough", "empty")  # origins of lines no engine is asked to translate


def rows_left(rows: list[Line]) -> list[Line]:
    return [r for r in rows if r.origin == ORIGIN]


def translatable(rows: list[Line]) -> int:
    return sum(1 for r in rows if r.origin not in NOT_TRANSLATABLE)


def _example(row: Line) -> str:
    text = row.source_text or row.text
    text = text if len(text) <= 60 else text[:57] + "..."
    start = row.start
    return f"first at {int(start // 60):02d}:{start % 60:06.3f}: {text!r}"


def _summary(left: list[Line], total: int, why: str, target: str, source: str) -> str:
    return (f"{len(left)} of {total} line(s) are untranslated ({why}; {_example(left[0])}): "
            f"the {target} track would show them in {source}")


def refuse(rows: list[Line], why: str, fixes: list[str], target: str, source: str, *,
           retry: bool = True) -> PipelineError:
    """The stage's error: how many lines, why (the engine's or the last reply's problem), and
    the fixes (a retry where one can help: not for a deterministic NMT engine), the last
    being to accept them."""
    left = rows_left(rows)
    return PipelineError(
        _summary(left, translatable(rows), why, target, source),
        fix="; or ".join([*fixes, *(["re-run (a retry)"] if retry else []),
                          f"accept them, marked in qc.json, with {ALLOW}"]))


def degraded(rows: list[Line], why: str, fixes: list[str], target: str, source: str) -> str:
    """The StageOutcome.degraded sentence when the user allowed untranslated lines."""
    left = rows_left(rows)
    return (f"{len(left)} of {translatable(rows)} line(s) are untranslated ({why}): the "
            f"{target} track shows them in {source}, marked 'untranslated' in qc.json "
            f"(allowed by translation.allow_untranslated); fix: {'; or '.join(fixes)}")
