"""Stage fingerprints: what a stage's result depends on, and why it must run again.

Components: stage name + contract version, the stage module's source, the environment's
lock, the resolved params (less RUNTIME_PARAMS), the models (id + cached revision), and the
input file hashes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# params that change how or where a stage runs, never what it writes: a run on a machine
# (or a Ray node) with other cores (shared/threads.py) or its project, and so its metadata
# application caches, elsewhere must not redo a stage another finished
RUNTIME_PARAMS = frozenset({"cpu_threads", "tmdb_cache_dir", "musicbrainz_cache_dir"})


def params_part(params: dict[str, Any]) -> dict[str, Any]:
    """The params as the fingerprint holds them."""
    return {k: v for k, v in params.items() if k not in RUNTIME_PARAMS}


def digest(components: dict[str, Any]) -> str:
    canonical = json.dumps(components, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def matches(recorded: str, recorded_parts: dict[str, Any], parts: dict[str, Any]) -> bool:
    """``recorded`` is the fingerprint of ``parts``; one recorded while RUNTIME_PARAMS were
    still fingerprinted matches when all else is the same (an upgrade reruns nothing)."""
    if digest(parts) == recorded:
        return True
    old = recorded_parts.get("params") or {}
    kept = {k: old[k] for k in RUNTIME_PARAMS if k in old}
    return bool(kept) and digest({**parts, "params": {**parts["params"], **kept}}) == recorded


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) \
        else value
    return text if len(text) <= 24 else text[:12] + "…"


def explain(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human reasons for the difference: 'params.beam_size 5->3', 'input audio modified'."""
    reasons: list[str] = []
    if old.get("stage") != new.get("stage"):
        reasons.append(f"stage contract {old.get('stage')} -> {new.get('stage')}")
    if old.get("source") != new.get("source"):
        reasons.append("stage code changed")
    if old.get("environment") != new.get("environment"):
        reasons.append(f"environment changed ({_short(old.get('environment'))} -> "
                       f"{_short(new.get('environment'))})")
    old_p, new_p = old.get("params", {}), new.get("params", {})
    for key in sorted(set(old_p) | set(new_p)):
        if old_p.get(key) != new_p.get(key):
            reasons.append(f"params.{key} {_short(old_p.get(key))}->{_short(new_p.get(key))}")
    old_m, new_m = old.get("models", {}), new.get("models", {})
    for key in sorted(set(old_m) | set(new_m)):
        if old_m.get(key) != new_m.get(key):
            reasons.append(f"model {key} {_short(old_m.get(key))} -> {_short(new_m.get(key))}")
    old_i, new_i = old.get("inputs", {}), new.get("inputs", {})
    for key in sorted(set(old_i) | set(new_i)):
        if key not in old_i:
            reasons.append(f"new input {key}")
        elif key not in new_i:
            reasons.append(f"input {key} no longer used")
        elif old_i[key] != new_i[key]:
            reasons.append(f"input {key} modified")
    return reasons or ["fingerprint changed"]
