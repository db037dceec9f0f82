"""Generated audio for the songs stage tests: a film-like track with dialogue (espeak-ng,
English and Hindi) and two songs over a music bed (chords, bass and a 120 bpm drum/click
track), one sung (synthesised vowels holding notes of a melody, with vibrato) and one of
espeak-ng lines spoken over the bed (a recital, not singing: not lyrics). Because every part
is made separately, the "separation" is exact: vocals.wav and accompaniment.wav (44.1 kHz
stereo, with a little cross-leakage as Demucs leaves) are written beside the 16 kHz mono
mixture, with an aligned.json whose segments cover each line and manifest.json saying which
segments are lyrics (sung).

``build_set`` makes the labelled set of bench/songs_detection.py (``build_clip``: sung songs
between scenes of dialogue, dialogue over music, dialogue repeated over a noisy bed or over
music), each clip written the same way.

Needs numpy and scipy: run it in the whisperx venv,
`.venvs/whisperx/bin/python -m tests.song_audio OUT_DIR` (writes OUT_DIR/manifest.json), or
`... OUT_DIR --set [CLIP...]` (writes OUT_DIR/<clip>/ and OUT_DIR/set.json).
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

from shared.transcript import SCHEMA_VERSION

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


def bed(seconds: float, seed: int = 1, beat_s: float = BEAT_S, transpose: int = 0):
    """Chords (C Am F G, a bar each, moved by ``transpose`` semitones), a bass note, kick on
    every beat and a hi-hat click on the off-beats, at 120 bpm (``beat_s`` 0.5)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    bar = int(4 * beat_s * RATE)
    for at in range(0, n, bar):
        chord = CHORDS[(at // bar) % len(CHORDS)]
        span = slice(at, min(n, at + bar))
        tt = t[span] - at / RATE
        env = np.minimum(1.0, tt / 0.05) * np.exp(-tt * 0.4)
        for k, note in enumerate(chord):
            f = midi_hz(note + transpose)
            tone = np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt)
            out[span] += (0.5 if k == 0 else 0.25) * env * tone
    beat = int(beat_s * RATE)
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


def sung_note(note: int, seconds: float, vowel: tuple[int, int, int],
              vibrato: float = 0.3, rate: float = 5.5, scoop: float = 0.0):
    """A sung vowel: harmonics of f0 (vibrato ``rate`` Hz, +-``vibrato`` semitone after
    150 ms; ``scoop`` semitones below the note at the onset, gliding up in 80 ms) shaped by
    three formants, with a 40 ms attack and 60 ms release."""
    import numpy as np

    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    depth = vibrato * np.clip((t - 0.15) / 0.1, 0, 1)
    glide = -scoop * np.clip(1 - t / 0.08, 0, 1)
    f0 = midi_hz(note) * 2 ** ((glide + depth * np.sin(2 * np.pi * rate * t)) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    out = np.zeros(n)
    for h in range(1, int(4000 / midi_hz(note)) + 1):
        freq = h * midi_hz(note)
        gain = sum(np.exp(-((freq - f) / 120.0) ** 2) * w
                   for f, w in zip(vowel, (1, .6, .3), strict=True))
        out += (0.05 + gain) / h * np.sin(h * phase)
    env = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (seconds - t) / 0.06)
    return out * np.clip(env, 0, 1)


def sung_line(number: int, melody: list[tuple[int, int]] | None = None,
              beat_s: float = BEAT_S, vibrato: float = 0.3, rate: float = 5.5,
              scoop: float = 0.0):
    """One two-bar line (4 s at 120 bpm): the melody (MELODY's by default) with a 80 ms
    consonant gap (a noise burst) between notes."""
    import numpy as np

    rng = np.random.default_rng(number)
    pieces = []
    for k, (note, beats) in enumerate(melody or MELODY[number % len(MELODY)]):
        seconds = beats * beat_s
        gap = int(0.08 * RATE)
        burst = rng.standard_normal(gap) * 0.02 * np.hanning(gap)
        pieces += [burst, sung_note(note, seconds - 0.08, VOWELS[(number + k) % len(VOWELS)],
                                    vibrato, rate, scoop)]
    line = np.concatenate(pieces)[: int(8 * beat_s * RATE)]
    return 0.08 * line / np.sqrt(np.mean(line ** 2))


RHYTHMS = [(2, 1, 1, 3, 1), (1, 1, 2, 2, 2), (3, 1, 2, 2), (2, 2, 1, 1, 2), (1, 1, 1, 1, 4)]
SCALE = (0, 2, 4, 5, 7, 9, 11, 12)


def melody(rng, tonic: int) -> list[tuple[int, int]]:
    """A random two-bar melody (eight beats) on the major scale of ``tonic`` (a MIDI note)."""
    rhythm = RHYTHMS[int(rng.integers(len(RHYTHMS)))]
    return [(tonic + SCALE[int(rng.integers(len(SCALE)))], beats) for beats in rhythm]


def noise_bed(seconds: float, seed: int = 3):
    """A noisy, unmusical bed (street or crowd ambience): brown-ish noise with a slowly
    wandering level, a mains hum and random clatter, RMS 0.04."""
    import numpy as np
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rumble = lfilter([1.0], [1.0, -0.98], rng.standard_normal(n))
    hiss = rng.standard_normal(n)
    wander = 1 + 0.5 * np.interp(t, np.arange(0, seconds + 2, 1.3),
                                 rng.uniform(-1, 1, len(np.arange(0, seconds + 2, 1.3))))
    out = wander * (rumble / np.std(rumble) + 0.3 * hiss)
    out += 0.3 * (np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t))
    for at in rng.uniform(0, seconds, int(seconds / 2)):  # irregular clatter
        k = int(at * RATE)
        m = min(n - k, int(0.05 * RATE))
        out[k:k + m] += 3 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.01 * RATE))
    return 0.04 * out / np.sqrt(np.mean(out ** 2))


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

    def song(self, lines: list, texts: list[str], lang: str, beat_s: float = BEAT_S,
             backing=None, sung: bool = True) -> tuple[float, float]:
        """Lines on a two-bar grid over a bed (``bed`` at ``beat_s`` unless given); lyrics
        (truth) when ``sung``: lines spoken over a beat are no singing."""
        start = self.clock
        line_s = 8 * beat_s
        seconds = line_s * len(lines) + 1.0
        self.backing.append((int(start * RATE),
                             bed(seconds, beat_s=beat_s) if backing is None
                             else backing(seconds)))
        for n, (line, text) in enumerate(zip(lines, texts, strict=True)):
            self.speech(line, text, lang, song=sung, at=start + 0.5 + n * line_s)
        self.clock = start + seconds + 1.0
        return start, start + seconds

    def scene(self, lines: list, texts: list[str], langs: list[str], backing,
              pause_s: float = 0.8) -> tuple[float, float]:
        """Dialogue (not lyrics) over a bed: ``backing(seconds)`` (a music bed, a noise bed)
        under the lines said one after the other with ``pause_s`` between them."""
        start = self.clock
        self.clock += 0.6
        for line, text, lang in zip(lines, texts, langs, strict=True):
            self.speech(line, text, lang)
            self.clock += pause_s - 0.8
        end = self.clock
        self.backing.append((int(start * RATE), backing(end - start)))
        self.clock = end + 0.4
        return start, end

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
    spoken_song = line.song(spoken, SPOKEN_LYRICS, "en", sung=False)
    for n, text in enumerate(SPEECH_EN_2):
        line.speech(espeak(text, "en", pieces, f"en2_{n}"), text, "en")
    manifest = write_clip(folder, line, songs)
    manifest["spoken_song"] = [round(x, 3) for x in spoken_song]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return manifest


def write_clip(folder: Path, line: Timeline, songs: list[tuple[float, float]]) -> dict:
    """The clip's mixture (16 kHz mono), exact vocals and accompaniment (44.1 kHz stereo),
    aligned.json (a segment per line) and manifest.json (truth per segment, song spans)."""
    import numpy as np
    from scipy.signal import resample_poly

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
        {"schema_version": SCHEMA_VERSION, "language": "en", "segments": segments,
         "method": "whisper-word-timestamps"},
        ensure_ascii=False, indent=2), "utf-8")
    manifest = {"truth": [s["song"] for s in line.segments],
                "songs": [[round(a, 3), round(b, 3)] for a, b in songs],
                "duration": round(line.clock + 0.5, 3)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return manifest


# -- the labelled set: sung songs vs dialogue over music vs repeated dialogue ----------------
DIALOGUE = ["Good evening. The train to Mumbai leaves at nine o'clock tonight.",
            "I told you already, I am not going anywhere without my brother.",
            "The doctor said she will be fine, but we should stay with her tonight.",
            "Call me when you reach the station, and do not forget the tickets.",
            "Where did you put the keys? I have been looking for them all morning.",
            "Nobody in this town remembers what happened that winter.",
            "If we leave now, we can still be there before the shops close.",
            "Your father wanted you to have this, he said so before he left.",
            "Listen to me carefully, we only get one chance at this.",
            "The rain will stop by evening, and then we start walking."]
REPEATED = ["Where is the money?", "I do not know, I swear I do not know.",
            "Tell me where the money is.", "I told you, I do not know."]
VOICES = ["en", "en-us+f3", "en+m3", "en-gb-scotland"]
SONGS = [  # (lyrics, tonic, beat_s, vibrato, rate, scoop, seed): refrains and plain verses
    (["o saathiya mere saathiya", "tere bina jiya jaaye na", "o saathiya mere saathiya",
      "chanda ki roshni mein dhoondhe tujhe", "o saathiya mere saathiya",
      "tere bina jiya jaaye na", "o saathiya mere saathiya"], 65, 0.5, 0.3, 5.5, 0.0, 11),
    (["the river runs down to the sea", "and I walk by the water alone",
      "the lights of the city are fading", "there is nobody waiting at home",
      "the night is as long as a year", "and the morning is further away"],
     52, 0.55, 0.4, 5.0, 0.5, 12),
    (["dil ye mera tera hua", "dil ye mera tera hua", "sapno mein bas tu hi tu",
      "dil ye mera tera hua", "raaton mein bas tu hi tu", "dil ye mera tera hua",
      "dil ye mera tera hua"], 69, 0.45, 0.5, 6.5, 0.3, 13),
    (["la la la la la la", "la la la la la la", "summer is here again",
      "la la la la la la", "dancing until the end", "la la la la la la"],
     60, 0.5, 0.2, 6.0, 0.0, 14),
]
CLIPS = ("film_songs", "dialogue_music", "dialogue_loud_music", "repeated_noise",
         "repeated_music")


def _dialogue(pieces: Path, texts: list[str], name: str,
              voices: list[str] | None = None) -> list:
    voices = voices or VOICES
    return [espeak(t, voices[n % len(voices)], pieces, f"{name}_{n}")
            for n, t in enumerate(texts)]


def _sung(song: tuple) -> list:
    import numpy as np

    lyrics, tonic, beat_s, vibrato, rate, scoop, seed = song
    rng = np.random.default_rng(seed)
    tunes: dict[str, list] = {}  # a repeated line is sung to the same tune
    lines = []
    for n, text in enumerate(lyrics):
        tune = tunes.setdefault(text, melody(rng, tonic))
        lines.append(sung_line(seed + n, tune, beat_s, vibrato, rate, scoop))
    return lines


def variant(seed: int) -> tuple[list[tuple], list[str], list[str]]:
    """The songs, dialogue lines and voices of the set ``seed``: 0 is the set the songs
    stage's defaults were set on; any other seed moves every song (key +-4 semitones, tempo
    +-10%, vibrato depth and rate, the scoop into notes, the tunes), reorders the dialogue
    and turns the voices round: a set held out from that tuning."""
    import numpy as np

    if seed == 0:
        return SONGS, DIALOGUE, VOICES
    rng = np.random.default_rng(seed)
    songs = [(lyrics, tonic + int(rng.integers(-4, 5)),
              round(beat_s * float(rng.uniform(0.9, 1.1)), 3), float(rng.uniform(0.15, 0.6)),
              float(rng.uniform(4.5, 7.0)), float(rng.uniform(0.0, 0.6)), tune + 100 * seed)
             for lyrics, tonic, beat_s, _, _, _, tune in SONGS]
    dialogue = [DIALOGUE[i] for i in rng.permutation(len(DIALOGUE))]
    return songs, dialogue, VOICES[seed % len(VOICES):] + VOICES[:seed % len(VOICES)]


def build_clip(kind: str, folder: Path, seed: int = 0) -> dict:
    """One clip of the labelled set (``CLIPS``; ``variant(seed)``), written as ``build``
    writes its clip:

    * film_songs: four sung songs (keys from E3 to A4, 109-133 bpm, refrains and plain
      verses) between scenes of dialogue, over music beds and without: positives, with the
      dialogue next to them (smoothing must not spread lyrics into it);
    * dialogue_music: ten distinct lines (four espeak-ng voices) over music beds;
    * dialogue_loud_music: the same with the music 6 dB louder, above the speech (RMS 0.12
      against 0.08);
    * repeated_noise: four lines said again and again (five rounds) over a noisy bed;
    * repeated_music: the same over a music bed."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces = folder / "pieces"
    pieces.mkdir(exist_ok=True)
    line = Timeline()
    songs: list[tuple[float, float]] = []
    all_songs, dialogue, voices = variant(seed)
    langs = ["en"] * len(dialogue)
    if kind == "film_songs":
        talk = _dialogue(pieces, dialogue, "talk", voices)
        for n, song in enumerate(all_songs):
            lines = talk[3 * n % len(talk):][:3]
            texts = dialogue[3 * n % len(talk):][:3]
            if n % 2:
                line.scene(lines, texts, langs[:len(lines)],
                           lambda sec, n=n: bed(sec, seed=n + seed, beat_s=0.45 + 0.05 * n,
                                                transpose=n + seed))
            else:
                for audio, text in zip(lines, texts, strict=True):
                    line.speech(audio, text, "en")
            songs.append(line.song(_sung(song), song[0], "hi" if n % 2 == 0 else "en",
                                   beat_s=song[2],
                                   backing=lambda sec, s=song: bed(sec, seed=s[6] + seed,
                                                                   beat_s=s[2],
                                                                   transpose=s[1] % 12 - 5)))
    elif kind in ("dialogue_music", "dialogue_loud_music"):
        talk = _dialogue(pieces, dialogue, "talk", voices)
        gain = 2.0 if kind == "dialogue_loud_music" else 1.0  # the bed 6 dB up: over speech
        line.scene(talk[:5], dialogue[:5], langs[:5],
                   lambda sec: gain * bed(sec, seed=5 + seed, transpose=seed % 5))
        line.scene(talk[5:], dialogue[5:], langs[5:],
                   lambda sec: gain * bed(sec, seed=6 + seed, beat_s=0.6, transpose=3))
    elif kind in ("repeated_noise", "repeated_music"):
        talk = _dialogue(pieces, REPEATED, "again", voices=[voices[2], voices[1]])
        rounds = 5
        backing = (lambda sec: noise_bed(sec, seed=3 + seed)) if kind == "repeated_noise" \
            else (lambda sec: bed(sec, seed=8 + seed, beat_s=0.55, transpose=2 + seed % 3))
        line.scene(talk * rounds, REPEATED * rounds, ["en"] * len(REPEATED) * rounds,
                   backing, pause_s=1.0)
    else:
        raise ValueError(f"unknown clip {kind!r}; expected one of {CLIPS}")
    manifest = write_clip(folder, line, songs)
    return {**manifest, "kind": kind, "seed": seed}


def build_set(folder: Path, kinds: tuple[str, ...] = CLIPS, seed: int = 0) -> dict:
    """The labelled set (``variant(seed)``): each clip in its own folder, set.json listing
    them."""
    clips = {kind: build_clip(kind, folder / kind, seed) for kind in kinds}
    (folder / "set.json").write_text(json.dumps(clips, indent=2), "utf-8")
    return clips


if __name__ == "__main__":
    # OUT_DIR: the test clip; OUT_DIR --set [--seed N] [KIND...]: the labelled set (or some
    # clips of it)
    if len(sys.argv) > 2 and sys.argv[2] == "--set":
        rest = sys.argv[3:]
        seed = int(rest[rest.index("--seed") + 1]) if "--seed" in rest else 0
        kinds = tuple(k for k in rest if k in CLIPS)
        build_set(Path(sys.argv[1]), kinds or CLIPS, seed)
    else:
        build(Path(sys.argv[1]))
