"""Parse and validate a model's reply: JSON {"lines": [{"id", "text"}]} with exactly the ids
asked for, each once, none empty. A reply wrapped in prose or a ``` fence is accepted; a
reply that merges, drops, adds or repeats lines is rejected with the reason."""

from __future__ import annotations

import json
import re


class InvalidReply(ValueError):
    """The reply cannot be used as it is; the message says why (it is shown to the model
    when the block is asked again)."""


def _json_object(text: str) -> object:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, flags=re.S)
    candidate = fenced.group(1) if fenced else text
    start = candidate.find("{")
    if start < 0:
        raise InvalidReply("the reply holds no JSON object")
    try:
        value, _ = json.JSONDecoder().raw_decode(candidate[start:])
    except ValueError as e:
        raise InvalidReply(f"the reply is not valid JSON ({e.msg})") from e
    return value


def parse(text: str, expected_ids: list[int]) -> dict[int, str]:
    """id -> translated text for exactly ``expected_ids``; raise InvalidReply otherwise."""
    data = _json_object(text)
    lines = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(lines, list):
        raise InvalidReply('the reply has no "lines" list')
    return validate(lines, expected_ids)


def validate(lines: list, expected_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    expected = set(expected_ids)
    for item in lines:
        if not isinstance(item, dict) or "id" not in item or "text" not in item:
            raise InvalidReply('every line must be an object with "id" and "text"')
        try:
            line_id = int(item["id"])
        except (TypeError, ValueError) as e:
            raise InvalidReply(f"line id {item['id']!r} is not a number") from e
        if line_id not in expected:
            raise InvalidReply(f"line id {line_id} was not asked for")
        if line_id in out:
            raise InvalidReply(f"line id {line_id} appears twice")
        text = item["text"]
        if not isinstance(text, str) or not text.strip():
            raise InvalidReply(f"line {line_id} has no text")
        out[line_id] = " ".join(text.split()) if "\n" not in text.strip() else \
            "\n".join(" ".join(part.split()) for part in text.strip().splitlines())
    missing = [i for i in expected_ids if i not in out]
    if missing:
        raise InvalidReply(f"{len(missing)} line(s) missing (ids {', '.join(map(str, missing))})"
                           f"; {len(out)} of {len(expected_ids)} returned: lines merged or "
                           "dropped")
    return out
