"""The vad stage's silero backend, in the whisperx venv (the silero-vad package ships its
model: nothing to download)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stages.vad.backends import BlockScores

if TYPE_CHECKING:
    import numpy as np


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
