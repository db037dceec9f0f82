"""API keys: from the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY, TMDB_API_KEY) or a keys
file outside the repository (~/.config/subtitle-pipeline/keys.toml, or $SUBPIPE_KEYS_FILE),
never from the job, the params or any file the pipeline writes. Stdlib only: imports in every venv.

keys.toml holds either the variable names or one table per provider:

    ANTHROPIC_API_KEY = "sk-ant-..."        # or
    [openai]
    api_key = "sk-..."
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

KEYS_FILE_ENV = "SUBPIPE_KEYS_FILE"
DEFAULT_KEYS_FILE = Path("~/.config/subtitle-pipeline/keys.toml")
KEY_VARIABLES = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY",
                 "tmdb": "TMDB_API_KEY"}
_SECRET_LIKE = re.compile(r"\b(sk-[A-Za-z0-9*_.-]{4,}|[A-Za-z0-9_-]{32,})")


@dataclass(frozen=True)
class Credential:
    value: str
    source: str  # where it came from, safe to log: "ANTHROPIC_API_KEY" or "keys file <path>"

    def __repr__(self) -> str:  # never the value, not even in a traceback
        return f"Credential(source={self.source!r})"


def keys_file() -> Path:
    return Path(os.environ.get(KEYS_FILE_ENV) or DEFAULT_KEYS_FILE).expanduser()


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: only `NAME = "value"` lines and [tables]
        return _read_simple(path.read_text("utf-8"))
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def _read_simple(text: str) -> dict:
    data: dict = {}
    table = data
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and "]" in line:
            table = data.setdefault(line[1:line.index("]")].strip(), {})
            continue
        match = re.match(r"""([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""", line)
        if match:
            table[match.group(1)] = match.group(2) if match.group(2) is not None else \
                match.group(3)
    return data


def from_file(provider: str, path: Path | None = None) -> Credential | None:
    path = path or keys_file()
    if not path.is_file():
        return None
    try:
        data = _read_toml(path)
    except (OSError, ValueError):
        return None
    value = data.get(KEY_VARIABLES[provider])
    table = data.get(provider)
    if not value and isinstance(table, dict):
        value = table.get("api_key")
    if isinstance(value, str) and value.strip():
        return Credential(value.strip(), f"keys file {path}")
    return None


def find(provider: str) -> Credential | None:
    """The provider's key: its environment variable first (surrounding whitespace stripped),
    then the keys file; None when neither has one."""
    name = KEY_VARIABLES[provider]
    value = os.environ.get(name, "").strip()
    if value:
        return Credential(value, name)
    return from_file(provider)


def missing_key_fix(provider: str) -> str:
    return (f"export {KEY_VARIABLES[provider]}=... in the shell that runs ./run-pipeline.sh, or "
            f"put it in {keys_file()} ({KEY_VARIABLES[provider]} = \"...\")")


def redact(text: str, secret: str | None = None) -> str:
    """``text`` without the key (whole or in part) or anything that looks like one, cut to
    300 characters: for messages that go into logs and result.json."""
    if secret:
        text = text.replace(secret, "***")
        for size in (12, 8):  # servers echo a key's head or tail ("sk-ab...wxyz")
            if len(secret) > size:
                text = text.replace(secret[:size], "***").replace(secret[-size:], "***")
    text = _SECRET_LIKE.sub("***", text)
    return text if len(text) <= 300 else text[:297] + "..."
