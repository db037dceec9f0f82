"""The asr stage's audio, read in blocks: a 16 kHz WAV (demux's audio_16k.wav, or the vocals)
is sliced from disk as each chunk needs it (stages.vad.wav's memory map), so a 2-hour film
never sits in memory whole; and faster-whisper's Silero VAD run block by block over it.
Another file (not a WAV, another rate) is decoded whole by faster-whisper, as before."""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger("stages.asr")

SAMPLE_RATE = 16000
# samples (320 s) of faster-whisper's Silero VAD at a time: one batch of 10,000 of its 512-sample
# windows, as one pass over the file makes them, so the regions are one pass's but near a
# block edge (its ONNX session needs ~220 MB for such a batch, whatever the file's length;
# 60 s blocks need less but find 1.5 % more speech, Silero's state starting afresh more often)
VAD_BLOCK = 512 * 10000


class WavAudio:
    """A 16 kHz WAV as a read-only float32 sequence: len() and slices (``audio[a:b]``), each
    slice read from the file when asked for."""

    def __init__(self, info) -> None:
        self.info = info

    def __len__(self) -> int:
        return self.info.frames

    def __getitem__(self, index: slice):
        from stages.vad import wav

        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("WavAudio takes contiguous slices only")
        start, stop, _ = index.indices(self.info.frames)
        return wav.read(self.info, start, max(0, stop - start))


def open_audio(path: Path):
    """A WavAudio when ``path`` is a 16 kHz WAV stages.vad.wav can read, else the whole file
    decoded by faster-whisper (a numpy array: the same slicing)."""
    from stages.vad import wav

    try:
        info = wav.probe(path)
    except (ValueError, OSError) as e:
        info = None
        reason = str(e)
    else:
        reason = f"{info.sample_rate} Hz"
    if info is not None and info.sample_rate == SAMPLE_RATE:
        return WavAudio(info)
    from faster_whisper import decode_audio

    logger.info("%s: not a 16 kHz WAV (%s): decoding it whole", path.name, reason)
    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def whole(audio):
    """The samples as one numpy array (the mlx backend decodes the job in one call)."""
    return audio[0:len(audio)] if isinstance(audio, WavAudio) else audio


class RememberedVad:
    """faster-whisper's Silero model, remembering the speech probabilities of the last blocks
    it was given. The asr stage runs the VAD twice over the same blocks (its chunks, then the
    regions for cue timing with another pad and no length limit): the probabilities depend on
    the samples alone, so the second pass costs no ONNX run (the regions are the same)."""

    KEEP = 64  # blocks (5.7 hours of audio; 40 KB each)

    def __init__(self) -> None:
        self.probabilities: dict[bytes, object] = {}
        self.model = None  # faster-whisper's SileroVADModel, set by block_speech

    def __call__(self, samples):
        import hashlib

        import numpy as np

        key = hashlib.blake2b(np.ascontiguousarray(samples), digest_size=16).digest()
        if key not in self.probabilities:
            if len(self.probabilities) >= self.KEEP:
                self.probabilities.pop(next(iter(self.probabilities)))
            self.probabilities[key] = self.model(samples)
        return self.probabilities[key]


REMEMBERED_VAD = RememberedVad()


def block_speech(audio, options, block: int = VAD_BLOCK) -> list[tuple[int, int]]:
    """faster-whisper's Silero VAD (get_speech_timestamps with ``options``) block by block,
    as (start, end) samples on the whole file. A region still open at a block's end (it
    ends on the edge) is joined to the next block's first region when that starts within the
    options' minimum silence of the edge, as one pass over the whole file would have."""
    from faster_whisper import vad

    tolerance = int(SAMPLE_RATE * options.min_silence_duration_ms / 1000)
    found: list[tuple[int, int]] = []
    model = vad.get_vad_model
    REMEMBERED_VAD.model = model()
    vad.get_vad_model = lambda: REMEMBERED_VAD  # what get_speech_timestamps runs
    try:
        for offset in range(0, len(audio), block):
            _block_regions(audio[offset:offset + block], offset, options, tolerance, found)
    finally:
        vad.get_vad_model = model
    return found


def _block_regions(samples, offset: int, options, tolerance: int,
                   found: list[tuple[int, int]]) -> None:
    """One block's regions appended to ``found`` (joined to the last across the edge)."""
    from faster_whisper.vad import get_speech_timestamps

    for n, chunk in enumerate(get_speech_timestamps(samples, options)):
        start, end = offset + chunk["start"], offset + chunk["end"]
        if n == 0 and found and offset and found[-1][1] == offset \
                and chunk["start"] <= tolerance:
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
