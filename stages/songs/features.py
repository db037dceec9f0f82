"""Audio evidence for the songs stage (numpy + scipy, in the whisperx venv).

Audio is read per segment range from memory-mapped WAVs (``stages.vad.wav``: any rate, any
channel count, averaged to mono), resampled to 16 kHz, never loaded whole: a 3-hour film at
44.1 kHz stereo costs the memory of its longest segment. All measures are vectorised over
10 ms frames:

* pitch (``yin``): the YIN cumulative-mean-normalised difference per frame (one FFT
  cross-correlation per frame), the first dip below ``yin_threshold`` followed down to its
  minimum, refined by a parabola. A frame is voiced when that minimum (its aperiodicity) is
  below ``voicing_threshold`` and it is not silence.
* ``pitch_measures``: voiced ratio (voiced / non-silent frames) and sustained ratio: the
  share of voiced frames inside a window of ``note_min_s`` that is voiced throughout with a
  pitch range under ``note_range_semitones``. Singing holds notes; speech glides.
* ``spectral_measures``: median spectral flatness (100-5000 Hz, dB) of non-silent frames
  (tonal music is far from flat) and the level floor (10th percentile of the frame levels
  against the 90th: a bed fills the pauses between words); ``onset_regularity``: the onset
  envelope (positive spectral flux of log magnitudes) autocorrelated,
  normalised, its highest value at a beat period between ``min_beat_s`` and ``max_beat_s``.
* the music bed: accompaniment energy over vocals energy in dB (with separation); the
  spectral flatness is then the vocals' (a held sung vowel is far more tonal than speech).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stages.songs import ANALYSIS_RATE, SongsParams

if TYPE_CHECKING:
    import numpy as np

HOP = ANALYSIS_RATE // 100  # 10 ms frames
FFT_FRAME = 512  # 32 ms for the spectral measures
CHUNK_FRAMES = 1024  # YIN frames per FFT batch (bounds the memory of a long segment)
EPS = 1e-12
BANDS_HZ = (0, 200, 2000, 8000)  # onset regularity per band (kick, voice, hats), the best


class Reader:
    """One WAV, read in time ranges as mono float32 at the analysis rate."""

    def __init__(self, path: Path) -> None:
        from stages.vad import wav

        self.path = Path(path)
        self.info = wav.probe(self.path)
        common = math.gcd(ANALYSIS_RATE, self.info.sample_rate)
        self.up, self.down = ANALYSIS_RATE // common, self.info.sample_rate // common

    @property
    def duration(self) -> float:
        return self.info.duration

    def read(self, start: float, end: float) -> np.ndarray:
        import numpy as np

        from stages.vad import wav

        rate = self.info.sample_rate
        first = max(0, int(round(start * rate)))
        last = max(first, int(round(end * rate)))
        samples = wav.read(self.info, first, last - first)
        if self.up != self.down and samples.size:
            from scipy.signal import resample_poly

            samples = resample_poly(samples, self.up, self.down).astype(np.float32)
        return samples


@dataclass
class Pitch:
    f0: np.ndarray  # Hz per frame (meaningful where voiced)
    aperiodicity: np.ndarray  # YIN minimum per frame, 0 (periodic) .. 1+
    active: np.ndarray  # not silence
    voiced: np.ndarray


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    import numpy as np

    if x.size < length:
        x = np.pad(x, (0, length - x.size))
    return np.lib.stride_tricks.sliding_window_view(x, length)[::hop]


def yin(x: np.ndarray, params: SongsParams) -> Pitch:
    """YIN f0 and aperiodicity every 10 ms over ``x`` (16 kHz mono)."""
    import numpy as np

    tau_min = max(2, int(ANALYSIS_RATE / params.f0_max))
    tau_max = int(math.ceil(ANALYSIS_RATE / params.f0_min))
    window = tau_max  # YIN's integration window: one longest period
    length = window + tau_max + 1
    n_fft = 1 << (length + window).bit_length()
    frames = _frames(x.astype(np.float64), length, HOP)
    floor = 10 ** (params.silence_dbfs / 20)
    taus = np.arange(tau_max + 1)
    f0s, aps, rmss = [], [], []
    for at in range(0, len(frames), CHUNK_FRAMES):
        fr = frames[at:at + CHUNK_FRAMES]
        rows = np.arange(len(fr))
        corr = np.fft.irfft(np.fft.rfft(fr, n_fft) * np.conj(np.fft.rfft(fr[:, :window], n_fft)),
                            n_fft)[:, :tau_max + 1]
        cum = np.concatenate([np.zeros((len(fr), 1)), np.cumsum(fr * fr, axis=1)], axis=1)
        energy = cum[:, taus + window] - cum[:, taus]
        diff = np.maximum(energy[:, :1] + energy - 2 * corr, 0.0)
        cmnd = diff[:, 1:] * taus[1:] / np.maximum(np.cumsum(diff[:, 1:], axis=1), EPS)
        band = cmnd[:, tau_min - 1:tau_max - 1]  # lags tau_min .. tau_max - 1
        below = band < params.yin_threshold
        found = below.any(axis=1)
        idx = np.where(found, below.argmax(axis=1), band.argmin(axis=1))
        for _ in range(band.shape[1]):  # follow the first dip down to its minimum
            step = found & (band[rows, np.minimum(idx + 1, band.shape[1] - 1)]
                            < band[rows, idx])
            if not step.any():
                break
            idx = idx + step
        best = band[rows, idx]
        left = band[rows, np.maximum(idx - 1, 0)]
        right = band[rows, np.minimum(idx + 1, band.shape[1] - 1)]
        curve = left - 2 * best + right
        shift = np.where(curve > EPS, 0.5 * (left - right) / np.maximum(curve, EPS), 0.0)
        period = tau_min + idx + np.clip(shift, -0.5, 0.5)
        f0s.append(ANALYSIS_RATE / period)
        aps.append(best)
        rmss.append(np.sqrt(energy[:, 0] / window))
    if not f0s:
        empty = np.zeros(0)
        return Pitch(empty, empty, empty.astype(bool), empty.astype(bool))
    f0, aperiodicity, rms = (np.concatenate(v) for v in (f0s, aps, rmss))
    active = rms > floor
    return Pitch(f0, aperiodicity, active, active & (aperiodicity < params.voicing_threshold))


def pitch_measures(pitch: Pitch, params: SongsParams) -> dict[str, float | None]:
    """voiced_ratio, sustained_ratio, harmonicity and the mean voiced pitch."""
    import numpy as np

    active = int(pitch.active.sum())
    voiced = int(pitch.voiced.sum())
    if active == 0:
        return {"voiced_ratio": None, "sustained_ratio": None, "harmonicity": None,
                "pitch_hz": None}
    note = max(2, int(round(params.note_min_s * 100)))
    n = pitch.voiced.size
    sustained = 0
    if voiced and n >= note:
        semis = np.where(pitch.voiced, 12 * np.log2(np.maximum(pitch.f0, 1.0) / 55.0), 0.0)
        windows = np.lib.stride_tricks.sliding_window_view(semis, note)
        all_voiced = np.convolve(pitch.voiced.astype(int), np.ones(note, int), "valid") == note
        stable = all_voiced & (windows.max(axis=1) - windows.min(axis=1)
                               <= params.note_range_semitones)
        covered = np.convolve(stable.astype(int), np.ones(note, int), "full")[:n] > 0
        sustained = int((covered & pitch.voiced).sum())
    harmonic = np.clip(1.0 - pitch.aperiodicity[pitch.active], 0.0, 1.0)
    return {"voiced_ratio": voiced / active,
            "sustained_ratio": sustained / voiced if voiced else 0.0,
            "harmonicity": float(harmonic.mean()),
            "pitch_hz": float(np.median(pitch.f0[pitch.voiced])) if voiced else None}


def _spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes (frames x bins) every 10 ms and each frame's RMS."""
    import numpy as np

    frames = _frames(x.astype(np.float32), FFT_FRAME, HOP)
    mags = np.abs(np.fft.rfft(frames * np.hanning(FFT_FRAME).astype(np.float32), axis=1))
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return mags, rms


def spectral_measures(x: np.ndarray, params: SongsParams) -> dict[str, float | None]:
    """flatness_db: the median over non-silent frames of the spectral flatness (geometric /
    arithmetic mean of power, 100-5000 Hz) in dB; floor_db: the 10th percentile of the frame
    levels relative to the 90th (a music bed fills the pauses between words). None when all
    is silence."""
    import numpy as np

    mags, rms = _spectrum(x)
    active = rms > 10 ** (params.silence_dbfs / 20)
    if not active.any():
        return {"flatness_db": None, "floor_db": None}
    lo, hi = (int(f * FFT_FRAME / ANALYSIS_RATE) for f in (100, 5000))
    power = mags[active, lo:hi].astype(np.float64) ** 2 + EPS
    flat = np.mean(np.log(power), axis=1) - np.log(np.mean(power, axis=1))
    levels = 20 * np.log10(np.maximum(rms, 1e-4))
    return {"flatness_db": float(10 / np.log(10) * np.median(flat)),
            "floor_db": float(np.percentile(levels, 10) - np.percentile(levels, 90))}


def onset_regularity(x: np.ndarray, params: SongsParams) -> float | None:
    """How periodic the onsets are: per band (``BANDS_HZ``: a beat is clearest in the kick or
    the hats, where speech onsets do not blur it), the normalised autocorrelation of the
    onset envelope at its best beat period in [min_beat_s, max_beat_s]; 0 for silence, None
    for too little audio."""
    import numpy as np

    mags, rms = _spectrum(x)
    if not (rms > 10 ** (params.silence_dbfs / 20)).any():
        return 0.0  # silence has no beat
    lo, hi = int(round(params.min_beat_s * 100)), int(round(params.max_beat_s * 100))
    if len(mags) < 2 * hi:
        return None
    logs = np.log1p(1000.0 * mags / (mags.max() + EPS))
    rise = np.maximum(np.diff(logs, axis=0), 0.0)
    edges = [int(f * FFT_FRAME / ANALYSIS_RATE) for f in BANDS_HZ]
    best = 0.0
    for lo_bin, hi_bin in zip(edges[:-1], edges[1:], strict=True):
        flux = rise[:, lo_bin:hi_bin].sum(axis=1)
        flux = flux - flux.mean()
        n = flux.size
        spec = np.fft.rfft(flux, 2 * n)
        ac = np.fft.irfft(spec * np.conj(spec), 2 * n)[:n]
        if ac[0] <= EPS:
            continue
        lags = np.arange(lo, min(hi, n - 1) + 1)
        best = max(best, float(((ac[lags] / (n - lags)) / (ac[0] / n)).max()))
    return float(np.clip(best, 0.0, 1.0))


def energy_db(x: np.ndarray, reference: np.ndarray) -> float | None:
    """10 log10 of x's mean power over the reference's (None when both are empty)."""
    import numpy as np

    if not x.size or not reference.size:
        return None
    power = float(np.mean(x.astype(np.float64) ** 2))
    ref = float(np.mean(reference.astype(np.float64) ** 2))
    return round(10 * math.log10((power + EPS) / (ref + EPS)), 2)


class Evidence:
    """The audio measures of segments: with separation (vocals + accompaniment) or from the
    mixture alone. Values are rounded for songs.json; None = could not be measured."""

    def __init__(self, mixture: Path, vocals: Path | None, accompaniment: Path | None,
                 params: SongsParams) -> None:
        self.params = params
        self.separated = vocals is not None and accompaniment is not None
        self.mixture = Reader(mixture)
        self.vocals = Reader(vocals) if self.separated else None
        self.accompaniment = Reader(accompaniment) if self.separated else None

    @property
    def mode(self) -> str:
        return "separated" if self.separated else "mixture"

    def _context(self, start: float, end: float) -> tuple[float, float]:
        half = max(self.params.rhythm_context_s, end - start) / 2
        middle = (start + end) / 2
        return max(0.0, middle - half), middle + half

    def measure(self, start: float, end: float) -> dict[str, float | None]:
        params = self.params
        if end - start < 0.05:
            return {}
        if self.separated:
            vocals = self.vocals.read(start, end)
            backing = self.accompaniment.read(start, end)
            found = pitch_measures(yin(vocals, params), params)
            found.pop("harmonicity")
            found["flatness_db"] = spectral_measures(vocals, params)["flatness_db"]
            found["bed_db"] = energy_db(backing, vocals)
            found["rhythm"] = onset_regularity(self.accompaniment.read(*self._context(start,
                                                                                      end)),
                                               params)
        else:
            mix = self.mixture.read(start, end)
            found = pitch_measures(yin(mix, params), params)
            found.update(spectral_measures(mix, params))
            found["rhythm"] = onset_regularity(self.mixture.read(*self._context(start, end)),
                                               params)
        return {k: (None if v is None else round(float(v), 4)) for k, v in found.items()}

