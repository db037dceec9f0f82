"""The vad stage's pyannote backend, in the pyannote venv: pyannote.audio's own
VoiceActivityDetection pipeline on the segmentation model it loads by repo id from the HF
cache (registry model pyannote-segmentation; the stage runs with HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.pyannote_checkpoint import REPO_ID
from stages.vad.backends import BlockScores

if TYPE_CHECKING:
    import numpy as np


class Pyannote:
    """pyannote.audio's VoiceActivityDetection pipeline on pyannote/segmentation (5 s
    windows every ``step`` seconds, 3 speaker channels; speech = the max over speakers,
    averaged over the overlapping windows)."""

    name = "pyannote"

    def __init__(self, device: str, step: float) -> None:
        import torch
        from pyannote.audio import Model
        from pyannote.audio.pipelines import VoiceActivityDetection

        # lightning announces, at INFO, that it upgraded the 1.5-era checkpoint in memory
        logging.getLogger("lightning.pytorch.utilities.migration").setLevel(logging.WARNING)
        model = Model.from_pretrained(REPO_ID)  # from the HF cache: the stage runs offline
        self.pipeline = VoiceActivityDetection(segmentation=model, step=step)
        self.pipeline.to(torch.device(device))
        self._thresholds: tuple[float, float] | None = None
        self._torch = torch

    def score(self, samples: np.ndarray, sample_rate: int, onset: float,
              offset: float) -> BlockScores:
        import numpy as np

        if self._thresholds != (onset, offset):
            self.pipeline.instantiate({"onset": onset, "offset": offset,
                                       "min_duration_on": 0.0, "min_duration_off": 0.0})
            self._thresholds = (onset, offset)
        captured = {}

        def hook(step, artefact, file=None, **progress):
            if step == "segmentation" and artefact is not None:
                captured["scores"] = artefact

        waveform = self._torch.from_numpy(samples).unsqueeze(0)
        speech = self.pipeline({"waveform": waveform, "sample_rate": sample_rate,
                                "uri": "block"}, hook=hook)
        regions = [(s.start, s.end) for s in speech.get_timeline()]
        frames = captured["scores"]
        window = frames.sliding_window
        scores = np.asarray(frames.data, dtype=np.float32).max(axis=-1)
        return BlockScores(regions, scores, window.start + window.duration / 2, window.step)
