"""Seeded sampling that a chunk can count on. ctranslate2 (4.8.5, the newest release) keeps one
random generator per thread and seeds it once, at that thread's first draw, from the seed
``set_random_seed`` last set: calling it again later changes nothing for a thread that has
drawn. The draws of temperature-fallback sampling happen on the model's worker threads, which
live as long as the ctranslate2 model object. So what a sampled chunk decodes would depend on
every sampled decode before it in the process (earlier chunks, another job of the batch), and
a resumed run would differ from an uninterrupted one.

``SeededWhisper`` stands in for faster-whisper's ctranslate2 model: it notes when a
``generate`` call sampled (``sampling_topk`` other than 1: ctranslate2's random sampler), and
``fresh_generator`` loads the ctranslate2 model again before the next chunk when it has (new
worker threads, whose generators have never drawn). Each chunk then samples from the seed
alone. A chunk whose decodes did not sample costs nothing; one that did costs one model
load."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger("stages.asr")


class SeededWhisper:
    """A ctranslate2 Whisper that knows whether its worker threads' generators have drawn
    (everything else passes through to the model)."""

    def __init__(self, inner, load: Callable[[], object]) -> None:
        self._inner = inner
        self._load = load
        self.sampled = False
        self.reloads = 0

    def generate(self, *args, **kwargs):
        if kwargs.get("sampling_topk", 1) != 1:
            self.sampled = True
        return self._inner.generate(*args, **kwargs)

    def reload(self) -> None:
        """A new ctranslate2 model (the old one is released first: one copy in memory)."""
        started = time.monotonic()
        self._inner = None
        self._inner = self._load()
        self.sampled = False
        self.reloads += 1
        logger.debug("reloaded the ctranslate2 model for a fresh sampling generator in %.2fs",
                     time.monotonic() - started)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def watch(whisper_model, load: Callable[[], object]) -> None:
    """Put a SeededWhisper in place of a faster-whisper WhisperModel's ctranslate2 model;
    ``load`` makes a new one with the same settings."""
    whisper_model.model = SeededWhisper(whisper_model.model, load)


def fresh_generator(model, seed: int) -> None:
    """Before a chunk: the sampling generators start from ``seed``, whatever was decoded
    before. ``model`` is a WhisperModel or a BatchedInferencePipeline around one."""
    import ctranslate2

    inner = model
    while inner is not None and not isinstance(inner, SeededWhisper):
        inner = getattr(inner, "model", None)
    if inner is None:
        raise TypeError("the asr model was not loaded through stages.asr.seeded.watch")
    if inner.sampled:
        inner.reload()
    ctranslate2.set_random_seed(seed)
