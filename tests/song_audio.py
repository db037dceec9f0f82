"""Generated audio for the songs stage tests: a film-like track with dialogue (espeak-ng,
English and Hindi) and two songs over a music bed (chords, bass and a 120 bpm drum/click
track), one sung (synthesised vowels holding notes of a melody, with vibrato) and one with
espeak-ng lines over the bed. Because every part is made separately, the "separation" is
exact: vocals.wav and accompaniment.wav (44.1 kHz stereo, with a little cross-leakage as
Demucs leaves) are written beside the 16 kHz mono mixture, with an aligned.json whose
segments cover each line and truth.json saying which segments are lyrics.

Needs numpy and scipy: run it in the whisperx venv,
`.venvs/whisperx/bin/python -m tests.song_audio OUT_DIR` (writes OUT_DIR/manifest.json).
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

RATE = 44100
BEAT_S = 0.5  # 120 bpm
LINE_S = 4.0  # two bars of 4/4 per sung line
CHORDS = [(48, 60, 64, 67), (45, 57, 60, 64), (41, 57, 60, 65), (43, 55, 59, 62)]  # C Am F G
VOWELS = [(730, 1090, 2440), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240),
          (270, 2290, 3010)]  # a, e, o, u, i (F1-F3, Hz)
MELODY = [  # per sung line: (midi note, beats)
    [(67, 2), (64, 1), (65, 1), (67, 3), (64, 1)],
    [(69, 2), (67, 1), (65, 1), (64, 3), (62, 1)],
]

SPEECH_EN_1 = ["Good evening. The train to Mumbai leaves at nine o'clock tonight.",
               "I told you already, I am not going anywhere without my brother.",
               "The doctor said she will be fine, but we should stay with her tonight."]
SPEECH_HI = ["मैं कल सुबह दिल्ली जा रहा हूँ, तुम भी चलो।",
             "यह घर बहुत पुराना है, लेकिन मुझे यहाँ रहना अच्छा लगता है।",
             "माँ ने कहा था कि शाम तक वापस आ जाना।"]
SPEECH_EN_2 = ["Wait, wait, wait!",
               "Call me when you reach the station, and do not forget the tickets.",
               "Where did you put the keys? I have been looking for them all morning."]
SUNG_LYRICS = ["o saathiya mere saathiya", "tere bina jiya jaaye na",
               "o saathiya mere saathiya", "chanda ki roshni mein dhoondhe tujhe",
               "o saathiya mere saathiya", "tere bina jiya jaaye na",
               "o saathiya mere saathiya"]
SPOKEN_LYRICS = ["we are dancing in the rain tonight", "hold my hand and never let me go",
                 "we are dancing in the rain tonight", "every star is shining just for you",
                 "we are dancing in the rain tonight", "hold my hand and never let me go"]


def midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def bed(seconds: float, seed: int = 1):
    """Chords (C Am F G, a bar each), a bass note, kick on every beat and a hi-hat click on
    the off-beats, at 120 bpm."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    bar = int(4 * BEAT_S * RATE)
    for at in range(0, n, bar):
        chord = CHORDS[(at // bar) % len(CHORDS)]
        span = slice(at, min(n, at + bar))
        tt = t[span] - at / RATE
        env = np.minimum(1.0, tt / 0.05) * np.exp(-tt * 0.4)
        for k, note in enumerate(chord):
            f = midi_hz(note)
            tone = np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt)
            out[span] += (0.5 if k == 0 else 0.25) * env * tone
    beat = int(BEAT_S * RATE)
    kick_t = np.arange(int(0.12 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-kick_t * 40)) * kick_t) * np.exp(-kick_t * 30)
    hat = np.diff(rng.standard_normal(int(0.03 * RATE) + 1)) * np.exp(
        -np.arange(int(0.03 * RATE)) / (0.006 * RATE))
    for at in range(0, n, beat):
        k = min(len(kick), n - at)
        out[at:at + k] += 0.9 * kick[:k]
        off = at + beat // 2
        h = max(0, min(len(hat), n - off))
        out[off:off + h] += 0.25 * hat[:h]
    return 0.06 * out / np.sqrt(np.mean(out ** 2))


def sung_note(note: int, seconds: float, vowel: tuple[int, int, int]):
    """A sung vowel: harmonics of f0 (vibrato 5.5 Hz, +-0.3 semitone after 150 ms) shaped by
    three formants, with a 40 ms attack and 60 ms release."""
    import numpy as np

    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    depth = 0.3 * np.clip((t - 0.15) / 0.1, 0, 1)
    f0 = midi_hz(note) * 2 ** (depth * np.sin(2 * np.pi * 5.5 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    out = np.zeros(n)
    for h in range(1, int(4000 / midi_hz(note)) + 1):
        freq = h * midi_hz(note)
        gain = sum(np.exp(-((freq - f) / 120.0) ** 2) * w
                   for f, w in zip(vowel, (1, .6, .3), strict=True))
        out += (0.05 + gain) / h * np.sin(h * phase)
    env = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (seconds - t) / 0.06)
    return out * np.clip(env, 0, 1)


def sung_line(number: int):
    """One 4 s line: the melody with a 80 ms consonant gap (a noise burst) between notes."""
    import numpy as np

    rng = np.random.default_rng(number)
    pieces = []
    for k, (note, beats) in enumerate(MELODY[number % len(MELODY)]):
        seconds = beats * BEAT_S
        gap = int(0.08 * RATE)
        burst = rng.standard_normal(gap) * 0.02 * np.hanning(gap)
        pieces += [burst, sung_note(note, seconds - 0.08, VOWELS[(number + k) % len(VOWELS)])]
    line = np.concatenate(pieces)[: int(LINE_S * RATE)]
    return 0.08 * line / np.sqrt(np.mean(line ** 2))


def espeak(text: str, voice: str, folder: Path, name: str, speed: int = 160):
    """espeak-ng's voice at 44.1 kHz, trimmed to its sound, RMS 0.08."""
    import numpy as np
    from scipy.signal import resample_poly

    path = folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text],
                   check=True)
    with wave.open(str(path), "rb") as handle:
        rate = handle.getframerate()
        raw = np.frombuffer(handle.readframes(handle.getnframes()), "<i2") / 32768.0
    audio = resample_poly(raw, RATE, rate)
    hop = RATE // 100
    rms = np.sqrt(np.convolve(audio ** 2, np.ones(hop) / hop, "same"))
    active = np.flatnonzero(rms > 0.05 * rms.max())
    audio = audio[max(0, active[0] - hop): active[-1] + hop]
    return 0.08 * audio / np.sqrt(np.mean(audio ** 2))


class Timeline:
    def __init__(self) -> None:
        self.vocals: list = []  # (start sample, samples)
        self.backing: list = []
        self.segments: list[dict] = []
        self.clock = 0.5

    def speech(self, audio, text: str, lang: str, song: bool = False, at: float | None = None
               ) -> None:
        start = self.clock if at is None else at
        self.vocals.append((int(start * RATE), audio))
        end = start + len(audio) / RATE
        self.segments.append({"start": round(start, 3), "end": round(end, 3), "text": text,
                              "language": lang, "song": song})
        if at is None:
            self.clock = end + 0.8

    def song(self, lines: list, texts: list[str], lang: str) -> tuple[float, float]:
        start = self.clock
        seconds = LINE_S * len(lines) + 1.0
        self.backing.append((int(start * RATE), bed(seconds)))
        for n, (line, text) in enumerate(zip(lines, texts, strict=True)):
            self.speech(line, text, lang, song=True, at=start + 0.5 + n * LINE_S)
        self.clock = start + seconds + 1.0
        return start, start + seconds

    def render(self, parts: list):
        import numpy as np

        out = np.zeros(int((self.clock + 0.5) * RATE))
        for at, audio in parts:
            out[at:at + len(audio)] += audio
        return out


def write_wav(path: Path, audio, rate: int, channels: int) -> Path:
    import numpy as np

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.repeat(pcm[:, None], 2, axis=1).reshape(-1)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def build(folder: Path) -> dict:
    import numpy as np
    from scipy.signal import resample_poly

    folder.mkdir(parents=True, exist_ok=True)
    pieces = folder / "pieces"
    pieces.mkdir(exist_ok=True)
    line = Timeline()
    for n, text in enumerate(SPEECH_EN_1):
        line.speech(espeak(text, "en", pieces, f"en1_{n}"), text, "en")
    songs = [line.song([sung_line(n) for n in range(len(SUNG_LYRICS))], SUNG_LYRICS, "hi")]
    for n, text in enumerate(SPEECH_HI):
        line.speech(espeak(text, "hi", pieces, f"hi_{n}"), text, "hi")
    spoken = [espeak(t, "en", pieces, f"lyric_{n}", speed=150)[: int((LINE_S - 0.3) * RATE)]
              for n, t in enumerate(SPOKEN_LYRICS)]
    songs.append(line.song(spoken, SPOKEN_LYRICS, "en"))
    for n, text in enumerate(SPEECH_EN_2):
        line.speech(espeak(text, "en", pieces, f"en2_{n}"), text, "en")

    vocals, backing = line.render(line.vocals), line.render(line.backing)
    rng = np.random.default_rng(7)
    mixture = vocals + backing
    write_wav(folder / "vocals.wav", vocals + 0.03 * backing, RATE, 2)
    write_wav(folder / "accompaniment.wav",
              backing + 0.03 * vocals + 1e-4 * rng.standard_normal(len(backing)), RATE, 2)
    write_wav(folder / "audio_16k.wav", resample_poly(mixture, 160, 441), 16000, 1)
    segments = [{"id": n, "start": s["start"], "end": s["end"], "text": s["text"],
                 "language": s["language"], "words": [], "method": "whisper-word-timestamps"}
                for n, s in enumerate(line.segments)]
    (folder / "aligned.json").write_text(json.dumps(
        {"language": "en", "segments": segments, "method": "whisper-word-timestamps"},
        ensure_ascii=False, indent=2), "utf-8")
    manifest = {"truth": [s["song"] for s in line.segments],
                "songs": [[round(a, 3), round(b, 3)] for a, b in songs],
                "duration": round(line.clock + 0.5, 3)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return manifest


if __name__ == "__main__":
    build(Path(sys.argv[1]))
