"""Generated film-like audio with known sentence times, for tests and benchmarks of timing.

Distinct English sentences (espeak-ng) in two voices, each followed by a pause of its own
length (a seeded draw), and under some lines a quiet synthetic music bed (sox chords with a
tremolo) that carries on through the pause after the line, the way a score does. Every
sentence is synthesised on its own and trimmed of espeak-ng's leading and trailing silence, so
its start and end on the timeline are known to the sample: they are measured from the parts'
durations, not estimated.

Needs only espeak-ng and sox (the standard library does the rest), so any venv can run it:
`python -m tests.film_audio OUT_DIR [--lines N]` writes OUT_DIR/film.wav and
OUT_DIR/manifest.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

RATE = 16000
VOICES = ("en-us", "en-gb+f3")  # a man and a woman
SPEED_WPM = 150
CONCAT_BATCH = 200  # sox opens every input at once: join in batches under the file limit

LINES = [
    "Good evening. The train to Mumbai leaves at nine o'clock tonight.",
    "I told you already, I am not going anywhere without my brother.",
    "Where did you put the keys? I have been looking for them all morning.",
    "The doctor said she will be fine, but we should stay with her tonight.",
    "Call me when you reach the station, and do not forget the tickets.",
    "Nobody in this village has seen a storm like this in fifty years.",
    "Why are you whispering? There is nobody else in the house.",
    "Your father wanted you to have this letter after he was gone.",
    "We have three hours before the bridge closes for the night.",
    "Please sit down. The inspector will be with you in a minute.",
    "I found the old photographs in a box under the stairs.",
    "If you leave now, you will never know what really happened here.",
    "The market was empty, and every shop had its shutters down.",
    "She sings at the temple every Sunday morning before sunrise.",
    "Tell the driver to wait outside. We will not be long.",
    "My grandmother planted that mango tree the year I was born.",
    "You promised me that we would go to the sea this summer.",
    "Open the window, it is far too hot in this little room.",
    "The police have closed the road between the river and the mill.",
    "I have never trusted a man who does not laugh at himself.",
]
# beyond the written lines: distinct sentences put together from these
_WHO = ["The teacher", "My uncle", "The captain", "Our neighbour", "The old farmer",
        "Her sister", "The young doctor", "The postman", "His mother", "The tailor"]
_DID = ["carried the lamp to", "forgot the money at", "left a parcel by", "lost his watch near",
        "waited for an hour outside", "painted a picture of", "heard a strange noise behind",
        "found a small dog near"]
_WHERE = ["the railway station", "the blue gate", "the cinema hall", "the river bank",
          "the school garden", "the bus stop", "the old temple", "the post office",
          "the tea stall", "the main square"]


class Sentence(NamedTuple):
    """One line of dialogue: seconds on the film's timeline (speech only), and its text."""

    start: float
    end: float
    text: str


def sentences(count: int) -> list[str]:
    """``count`` distinct sentences: the written lines first, then composed ones."""
    composed = [f"{who} {did} {where}." for where in _WHERE for did in _DID for who in _WHO]
    pool = LINES + composed
    if count > len(pool):
        raise ValueError(f"at most {len(pool)} distinct sentences, asked for {count}")
    return pool[:count]


def _sox(*args: str) -> None:
    """sox with repeatable dither (-R): without it every run dithers its 16-bit output with
    new random noise, so one seed made a different film each time (and a test near a
    decision's threshold, the asr recheck's, passed or failed by chance)."""
    subprocess.run(["sox", "-R", *args], check=True, capture_output=True)


def _frames(path: Path) -> int:
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes()


def _speech(text: str, voice: str, out: Path) -> Path:
    """The sentence spoken, 16 kHz mono, without the silence espeak-ng puts around it."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(SPEED_WPM), "-w", str(raw), text],
                   check=True, capture_output=True)
    _sox(str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out),
         "silence", "1", "0.01", "0.3%", "reverse", "silence", "1", "0.01", "0.3%", "reverse")
    raw.unlink()
    return out


def _bed(seconds: float, seed: int, out: Path) -> Path:
    """A quiet chord with a slow tremolo (about 14 dB under the speech)."""
    root = 196.0 * 2 ** (seed % 5 / 12)
    _sox("-r", str(RATE), "-c", "3", "-n", "-b", "16", "-c", "1", str(out),
         "synth", f"{seconds:.4f}", "sine", f"{root:.2f}", "sine", f"{root * 1.26:.2f}",
         "sine", f"{root * 1.5:.2f}", "remix", "-", "tremolo", "3", "40", "vol", "0.06",
         "fade", "0.3", f"{seconds:.4f}", "0.3")
    return out


def _concat(parts: Sequence[Path], out: Path) -> Path:
    if len(parts) <= CONCAT_BATCH:
        _sox(*map(str, parts), str(out))
        return out
    joined = [_concat(parts[i:i + CONCAT_BATCH], out.with_suffix(f".{i}.wav"))
              for i in range(0, len(parts), CONCAT_BATCH)]
    return _concat(joined, out)


def make_film(out_dir: Path, *, lines: int = 16, pauses: tuple[float, float] = (1.0, 4.0),
              lead_in: float = 1.5, music_every: int = 3, seed: int = 13
              ) -> tuple[Path, list[Sentence]]:
    """Write ``out_dir/film.wav`` (16 kHz mono) and return it with its sentences' times.

    ``lead_in`` seconds of silence open the film; each sentence is followed by a pause drawn
    from ``pauses`` (seconds, uniform); every ``music_every``-th line (0: none) has the music
    bed under it and under the pause after it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    texts = sentences(lines)
    work = Path(tempfile.mkdtemp(prefix="film-", dir=out_dir))
    blocks = []
    lead = work / "lead.wav"
    _sox("-n", "-r", str(RATE), "-c", "1", "-b", "16", str(lead), "trim", "0", f"{lead_in}")
    blocks.append(lead)
    at = _frames(lead)
    found: list[Sentence] = []
    for k, text in enumerate(texts):
        speech = _speech(text, VOICES[k % len(VOICES)], work / f"s{k}.wav")
        length = _frames(speech)
        found.append(Sentence(at / RATE, (at + length) / RATE, text))
        pause = round(rng.uniform(*pauses) * RATE)
        block = work / f"b{k}.wav"
        _sox(str(speech), str(block), "pad", "0", f"{pause}s")
        if music_every and k % music_every == music_every - 1:
            bed = _bed((length + pause) / RATE, k, work / f"m{k}.wav")
            mixed = work / f"x{k}.wav"
            _sox("-m", "-v", "1", str(block), "-v", "1", str(bed), str(mixed))
            block = mixed
        blocks.append(block)
        at += _frames(block)
    film = _concat(blocks, out_dir / "film.wav")
    for part in work.iterdir():
        part.unlink()
    work.rmdir()
    assert _frames(film) == at, "the film's length differs from the sum of its parts"
    return film, found


def cue_end_overruns(cues: Iterable[tuple[float, float]], truth: Sequence[Sentence]
                     ) -> list[float]:
    """For each cue (start, end in seconds) that overlaps a known sentence: its end minus the
    end of the last sentence it overlaps (positive: the cue stays on after the speech)."""
    out = []
    for start, end in cues:
        overlapped = [s for s in truth if s.start < end and start < s.end]
        if overlapped:
            out.append(end - max(s.end for s in overlapped))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def silences(truth: Sequence[Sentence], total: float) -> list[tuple[float, float]]:
    """The spans with no speech: before the first sentence, between sentences, after the
    last (seconds)."""
    edges = [0.0] + [t for s in truth for t in (s.start, s.end)] + [total]
    return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)
            if edges[i + 1] > edges[i]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--lines", type=int, default=16)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--music-every", type=int, default=3)
    args = parser.parse_args(argv)
    film, truth = make_film(args.out_dir, lines=args.lines, seed=args.seed,
                            music_every=args.music_every)
    manifest = {"audio": film.name, "duration": _frames(film) / RATE,
                "sentences": [s._asdict() for s in truth]}
    (args.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")


if __name__ == "__main__":
    main()
