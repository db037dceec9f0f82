"""source_separation's checkpoint inside the stage (shared.checkpoint): the stems are written
under ``.vocals.wav.partial`` / ``.accompaniment.wav.partial`` (PCM or float WAV, as the
finished files) and renamed into place when the last window is done. After each window both
are flushed and synced, the crossfade tail the next window needs is saved
(``.crossfade.npy``), then ``checkpoint.json`` records the windows done and the frames
written. A re-run of the same stage (the runner's fingerprint unchanged) cuts the partial
stems back to those frames and separates from the next window: the stems equal those of a run
that was never interrupted, byte for byte (each window's random shifts are seeded by its
index). A float WAV's PEAK chunk, which libsndfile stamps with the time of writing, is the
one exception."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import atomic
from shared import checkpoint as shared_checkpoint
from shared.stage import StageRequest

logger = logging.getLogger("stages.source_separation")

STEMS = ("vocals.wav", "accompaniment.wav")
CROSSFADE = ".crossfade.npy"


@dataclass
class Checkpoint(shared_checkpoint.Checkpoint):
    frames: int = 0  # frames of each stem written after the finished windows

    UNIT = "chunk"

    def state(self) -> dict[str, Any]:
        return {"frames": self.frames}

    def restore(self, state: dict[str, Any]) -> None:
        self.frames = int(state["frames"])


def partial(request: StageRequest, stem: str) -> Path:
    return request.output(f".{stem}.partial")


class Stems:
    """The two stems being written, from the first window or from where a checkpoint of the
    same run left them. ``done``: windows already separated; ``pending``: the tail of the last
    of them, waiting for its crossfade (None at the start)."""

    def __init__(self, request: StageRequest, samplerate: int, channels: int, subtype: str,
                 windows: int) -> None:
        self.request = request
        self.windows = windows
        self.samplerate = samplerate
        self.checkpoint, _ = shared_checkpoint.load(
            Checkpoint(request.output(shared_checkpoint.FILE), request.fingerprint))
        self.pending = self._resume()
        self.done = self.checkpoint.done
        mode = "r+" if self.done else "w"
        self.files = [self._open(partial(request, stem), mode, samplerate, channels, subtype)
                      for stem in STEMS]

    def _resume(self) -> Any:
        import numpy as np
        import soundfile as sf

        saved = self.checkpoint
        if not saved.done:
            return None
        try:
            frames = [sf.info(str(partial(self.request, s))).frames for s in STEMS]
            pending = np.load(self.request.output(CROSSFADE)) \
                if saved.done < self.windows else None
            if min(frames) < saved.frames:
                raise ValueError(f"{min(frames)} frames written, {saved.frames} recorded")
        except (OSError, ValueError, RuntimeError) as e:
            logger.warning("the partial stems do not match the checkpoint (%s): starting from "
                           "the first chunk", e)
            self.checkpoint = Checkpoint(saved.path, saved.fingerprint)
            return None
        logger.info("resuming after chunk %d of %d (%.1f s of stems already written)",
                    saved.done, self.windows, saved.frames / self.samplerate)
        return pending

    def _open(self, path: Path, mode: str, samplerate: int, channels: int, subtype: str):
        import soundfile as sf

        if mode == "w":
            return sf.SoundFile(str(path), "w", samplerate, channels, subtype, format="WAV")
        handle = sf.SoundFile(str(path), "r+")
        handle.truncate(self.checkpoint.frames)  # what a killed window left is dropped
        handle.seek(self.checkpoint.frames)
        return handle

    def window_done(self, done: int, frames: int, pending: Any) -> None:
        """``done`` windows finished, ``frames`` written to each stem: synced, then recorded."""
        import numpy as np

        saved = self.checkpoint
        if saved.fingerprint is None:
            return
        for handle, stem in zip(self.files, STEMS, strict=True):
            handle.flush()
            _fsync(partial(self.request, stem))
        if pending is not None:
            with atomic.atomic_path(self.request.output(CROSSFADE)) as tmp, \
                    open(tmp, "wb") as stream:
                np.save(stream, pending)
        saved.done, saved.frames = done, frames
        saved.save()

    def close(self, finished: bool) -> None:
        """Close both stems; when every window is done, rename them into place and remove the
        checkpoint. Otherwise they stay for the next run to resume."""
        for handle in self.files:
            handle.close()
        if not finished:
            return
        for stem in STEMS:
            atomic.publish(partial(self.request, stem), self.request.output(stem))
        self.checkpoint.remove()
        self.request.output(CROSSFADE).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
