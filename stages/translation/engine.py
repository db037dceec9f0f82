"""What every translation engine provides (nllb, indictrans2), and the data it works on.

An engine module (stages/translation/<engine>.py) runs in its own venv and defines

    def load(model: str, device: str, batch_size: int) -> Engine

``model`` is a hub repo id (resolved from $HF_HOME offline) or a local folder. The stage
(stages/translation/run.py) prepares the lines (glossary placeholders, long lines split into
sentences, pass-through lines removed) and calls ``Engine.translate`` once per job with every
line that needs a model; the engine batches (sorted by length) and returns one result per line
in the order given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LanguagePair:
    source: str  # ISO 639-1 code from config/languages.toml ("hi")
    target: str
    source_flores: str  # FLORES-200 code ("hin_Deva")
    target_flores: str


@dataclass
class Translation:
    text: str
    confidence: float | None = None  # mean token log-probability of the output, if known


class Engine(Protocol):
    name: str  # "nllb" | "indictrans2"
    model: str  # what was loaded (repo id or folder)
    generate_calls: int  # model.generate calls so far (batching is observable)

    def translate(self, texts: list[str], pair: LanguagePair) -> list[Translation]:
        """One Translation per text, same order; an empty text gives an empty Translation."""
        ...
