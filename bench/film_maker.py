"""A generated feature-length film for bench/long_film.py: distinct English sentences in two
voices (espeak-ng, tests/film_audio.py's voices and trimming), each followed by a pause of its
own length; a quiet music bed under every third line and its pause (dialogue over score);
score-only passages (louder music, no speech) and long silences between scenes. Every
sentence's start and end, every score passage and the film's length are known to the sample.

Fast and streaming: each distinct sentence is spoken once (two at a time) and kept under the
cache folder; the film is written block by block with the standard library's wave module
(never in memory whole) and kept under the cache folder keyed by its parameters, so the
10-, 30- and 120-minute films share their sentences and a second run costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.film_audio import _DID, _WHERE, _WHO, LINES, RATE, SPEED_WPM, VOICES, _speech

VERSION = 2  # bump when the film changes: cached films are keyed by it
_WHEN = ["", " this morning", " last night", " on Sunday", " before the rain"]
SCORE_EVERY = 14  # lines between score-only passages
SILENCE_EVERY = 9  # lines between long silences (a scene change)


def sentence_pool() -> list[str]:
    """Distinct sentences: the written lines, then composed ones (over 4,000)."""
    return LINES + [f"{who} {did} {where}{when}." for when in _WHEN for where in _WHERE
                    for did in _DID for who in _WHO]


def speaking_order(seed: int) -> list[int]:
    """Indexes into sentence_pool(): the written lines, then the composed ones in a seeded
    random order. In pool order consecutive composed lines differ by one word ("The teacher
    forgot the money at the railway station." then "Our neighbor forgot ..."), so 30 s of
    dialogue compressed over Whisper's 2.4 and every such window was decoded again at each
    fallback temperature: version 1's films measured that, not the pipeline (RTF 0.25 on a
    quiet machine at 10 minutes, 4 s per chunk of written lines against 16 s per composed one)."""
    written = len(LINES)
    composed = list(range(written, len(sentence_pool())))
    random.Random(seed).shuffle(composed)
    return list(range(written)) + composed


def _frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as handle:
        return handle.readframes(handle.getnframes())


def _spoken(text: str, voice: str, folder: Path) -> Path:
    """The sentence's trimmed 16 kHz mono WAV, made once and kept."""
    key = hashlib.sha1(f"{voice}|{SPEED_WPM}|{text}".encode()).hexdigest()[:16]
    path = folder / f"{key}.wav"
    if not path.is_file():
        part = folder / f"{key}.{os.getpid()}.part.wav"
        _speech(text, voice, part)
        os.replace(part, path)
    return path


def _music(seconds: float, seed: int, volume: float, work: Path) -> bytes:
    """A chord with a slow tremolo (tests/film_audio.py's bed, any volume), as frames."""
    root = 196.0 * 2 ** (seed % 5 / 12)
    out = work / "music.wav"
    subprocess.run(["sox", "-R", "-r", str(RATE), "-c", "3", "-n", "-b", "16", "-c", "1", str(out),
                    "synth", f"{seconds:.4f}", "sine", f"{root:.2f}", "sine",
                    f"{root * 1.26:.2f}", "sine", f"{root * 1.5:.2f}", "remix", "-",
                    "tremolo", "3", "40", "vol", f"{volume}", "fade", "0.3",
                    f"{seconds:.4f}", "0.3"], check=True, capture_output=True)
    return _frames(out)


def _mixed(speech: bytes, pause: int, seed: int, work: Path) -> bytes:
    """The line and its pause with the quiet bed under both (sox -m)."""
    line = work / "line.wav"
    with wave.open(str(line), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(speech + bytes(2 * pause))
    bed = work / "bed.wav"
    seconds = (len(speech) // 2 + pause) / RATE
    with wave.open(str(bed), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(_music(seconds, seed, 0.06, work))
    out = work / "mixed.wav"
    subprocess.run(["sox", "-R", "-m", "-v", "1", str(line), "-v", "1", str(bed), str(out)],
                   check=True, capture_output=True)
    return _frames(out)


def plan(minutes: float, seed: int) -> list[dict]:
    """The film's events in order, until ``minutes`` are filled: ("line", k, pause frames,
    with a bed or not), ("score", seconds), ("silence", seconds)."""
    rng = random.Random(seed)
    events: list[dict] = [{"kind": "silence", "seconds": 1.5}]
    approx = 1.5
    order = speaking_order(seed)
    k = 0
    while approx < minutes * 60:
        if k >= len(order):
            raise ValueError(f"at most {len(order)} distinct sentences: {minutes} minutes is "
                             "too long")
        pause = round(rng.uniform(1.0, 4.0) * RATE)
        events.append({"kind": "line", "k": order[k], "pause": pause, "bed": k % 3 == 2})
        approx += 3.9 + pause / RATE  # a spoken line lasts about 3.9 s
        k += 1
        if k % SCORE_EVERY == 0:
            events.append({"kind": "score", "seconds": round(rng.uniform(8.0, 16.0), 2)})
            approx += events[-1]["seconds"]
        elif k % SILENCE_EVERY == 0:
            events.append({"kind": "silence", "seconds": round(rng.uniform(5.0, 9.0), 2)})
            approx += events[-1]["seconds"]
    return events


def film(cache: Path, minutes: float, seed: int = 13) -> tuple[Path, dict]:
    """The film's WAV and manifest (sentences, score passages, duration), made when missing."""
    folder = cache / f"v{VERSION}-{minutes:g}min-seed{seed}"
    wav_path, manifest_path = folder / "film.wav", folder / "manifest.json"
    if wav_path.is_file() and manifest_path.is_file():
        return wav_path, json.loads(manifest_path.read_text("utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    events = plan(minutes, seed)
    texts = sentence_pool()
    lines = [e for e in events if e["kind"] == "line"]
    spoken_dir = cache / "sentences"
    spoken_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(2) as pool:
        spoken = list(pool.map(lambda e: _spoken(texts[e["k"]], VOICES[e["k"] % 2], spoken_dir),
                               lines))
    manifest = _write(events, dict(zip((e["k"] for e in lines), spoken, strict=True)), texts,
                      wav_path)
    manifest.update(minutes=minutes, seed=seed, version=VERSION)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
    return wav_path, manifest


def _write(events: list[dict], spoken: dict[int, Path], texts: list[str], out: Path) -> dict:
    """Write the events block by block into ``out`` (via a .part file); return the manifest."""
    sentences, scores, at = [], [], 0
    part = out.with_suffix(".part.wav")
    with tempfile.TemporaryDirectory() as tmp, wave.open(str(part), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        for event in events:
            if event["kind"] == "line":
                speech = _frames(spoken[event["k"]])
                length = len(speech) // 2
                sentences.append({"start": at / RATE, "end": (at + length) / RATE,
                                  "text": texts[event["k"]]})
                block = _mixed(speech, event["pause"], event["k"], Path(tmp)) if event["bed"] \
                    else speech + bytes(2 * event["pause"])
            elif event["kind"] == "score":
                block = _music(event["seconds"], len(scores), 0.3, Path(tmp))
                scores.append({"start": at / RATE, "end": (at + len(block) // 2) / RATE})
            else:
                block = bytes(2 * round(event["seconds"] * RATE))
            handle.writeframes(block)
            at += len(block) // 2
    os.replace(part, out)
    return {"audio": out.name, "duration": at / RATE, "sentences": sentences, "score": scores}
