"""The two speech scorers of the vad stage. Each turns one block of 16 kHz mono samples into
frame speech probabilities and the regions its own library's hysteresis finds in them
(onset/offset only: the duration rules are applied once, over the whole file, in regions.py).
Both run offline: the models ship inside the packages of the whisperx venv."""

from __future__ import annotations

import importlib.util
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stages.vad.regions import Region

if TYPE_CHECKING:
    import numpy as np



@dataclass
class BlockScores:
    """One block's result, in seconds from the block's first sample."""

    regions: list[tuple[float, float]]
    scores: np.ndarray  # per-frame speech probability
    first_centre: float  # centre of frame 0
    step: float  # seconds between frame centres


class Silero:
    """silero-vad 6.x, its batched ("sequence") ONNX model: numpy + onnxruntime on the CPU,
    bit-exact with the streaming model, ~0.004 x real time; timestamps from the package's
    own state machine (get_speech_timestamps_from_probs)."""

    name = "silero"

    def __init__(self) -> None:
        import torch

        threads = torch.get_num_threads()
        from silero_vad import get_speech_timestamps_from_probs, load_silero_vad

        torch.set_num_threads(threads)  # importing silero_vad sets 1 for the whole process
        self._timestamps = get_speech_timestamps_from_probs
        self.model = load_silero_vad(sequence=True)
        self.frame = 512  # samples per probability at 16 kHz

    def score(self, samples: np.ndarray, sample_rate: int, onset: float,
              offset: float) -> BlockScores:
        import numpy as np

        probs = self.model.audio_forward(samples, sampling_rate=sample_rate)
        stamps = self._timestamps(
            probs, sampling_rate=sample_rate, threshold=onset, neg_threshold=offset,
            min_speech_duration_ms=0, min_silence_duration_ms=0, speech_pad_ms=0,
            audio_length_samples=len(samples))
        regions = [(s["start"] / sample_rate, s["end"] / sample_rate) for s in stamps]
        step = self.frame / sample_rate
        return BlockScores(regions, np.asarray(probs, dtype=np.float32), step / 2, step)


def bundled_segmentation_checkpoint() -> Path:
    """The pyannote segmentation checkpoint that the whisperx wheel ships (found without
    importing whisperx, which takes seconds)."""
    from shared.errors import ModelMissingError

    spec = importlib.util.find_spec("whisperx")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError("whisperx is not installed in this environment",
                                fix="./bootstrap.sh --envs whisperx")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "pytorch_model.bin"
    if not path.is_file():
        raise ModelMissingError(f"the pyannote segmentation checkpoint is missing ({path})",
                                fix="./bootstrap.sh --force --envs whisperx")
    return path


class Pyannote:
    """pyannote.audio's VoiceActivityDetection pipeline on the segmentation checkpoint that
    whisperx bundles (5 s windows every ``step`` seconds, 3 speaker channels; speech = the
    max over speakers, averaged over the overlapping windows)."""

    name = "pyannote"

    def __init__(self, device: str, step: float) -> None:
        import torch
        from pyannote.audio import Model
        from pyannote.audio.pipelines import VoiceActivityDetection

        # lightning announces, at INFO, that it upgraded the 1.5-era checkpoint in memory
        logging.getLogger("lightning.pytorch.utilities.migration").setLevel(logging.WARNING)
        model = Model.from_pretrained(str(bundled_segmentation_checkpoint()))
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


def core_regions(result: BlockScores, block_start: float, core_start: float,
                 core_end: float) -> list[Region]:
    """The block's regions on the file's timeline, clipped to its core, each with the sum
    and count of the frame probabilities whose centres fall inside it."""
    regions = []
    for start, end in result.regions:
        start, end = max(start + block_start, core_start), min(end + block_start, core_end)
        if end <= start:
            continue
        first = max(0, math.ceil((start - block_start - result.first_centre) / result.step))
        last = max(first, math.ceil((end - block_start - result.first_centre) / result.step))
        inside = result.scores[first:last]
        regions.append(Region(start, end, float(inside.sum()), int(inside.size)))
    return regions
