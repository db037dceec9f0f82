"""How long shared/transcript.py takes to load and save a 2-hour film's transcript (2,000
segments, 20,000 words: ~3 MB of JSON), against plain json.loads / json.dumps of the same
dicts (what the stages did before the typed transcript). Best of --repeat runs each.

    .venvs/common/bin/python bench/transcript_io.py [--segments 2000] [--words 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import busy_note, machine_info, print_machine  # noqa: E402
from shared import atomic, transcript  # noqa: E402
from shared.transcript import Transcript  # noqa: E402


def film(segments: int, words: int) -> dict:
    """An asr segments.json of ``segments`` 3-second segments of ``words`` words each."""
    rows = []
    for i in range(segments):
        start = i * 3.0
        rows.append({"id": i, "start": start, "end": start + 2.9,
                     "text": " ".join(f"शब्द{k}" for k in range(words)), "language": "hi",
                     "avg_logprob": -0.3121, "no_speech_prob": 0.0123,
                     "compression_ratio": 1.2345, "temperature": 0.0,
                     "words": [{"start": round(start + k * 0.29, 3),
                                "end": round(start + k * 0.29 + 0.25, 3),
                                "word": f" शब्द{k}", "probability": 0.9123}
                               for k in range(words)]})
    return {"schema_version": transcript.SCHEMA_VERSION, "language": "hi",
            "language_probability": 0.97, "duration": segments * 3.0, "model": "base",
            "segments": rows}


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--words", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = film(args.segments, args.words)
    document = Transcript.model_validate(data)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "segments.json"
        figures = {
            "save typed": best(lambda: transcript.save(path, document), args.repeat),
            "save plain": best(lambda: atomic.write_json(path, data), args.repeat),
            "load typed": best(lambda: transcript.load_transcript(path), args.repeat),
            "load plain": best(lambda: json.loads(path.read_text("utf-8")), args.repeat),
        }
        size = path.stat().st_size
    machine = {**machine_info(), "loadavg_before": load_before,
               "loadavg_after": os.getloadavg()}
    print_machine(machine)
    print(f"input    {args.segments} segments, {args.segments * args.words} words, "
          f"{size / 1e6:.1f} MB of JSON; best of {args.repeat}")
    for name, seconds in figures.items():
        print(f"{name:<11} {seconds:7.3f} s")
    for op in ("save", "load"):
        print(f"{op} typed / plain: {figures[f'{op} typed'] / figures[f'{op} plain']:.2f}x")
    print(f"target   load and save each well under 1 s: "
          f"{'met' if max(figures.values()) < 1.0 else 'NOT met'}")
    note = busy_note(machine)
    if note:
        print(note)


if __name__ == "__main__":
    main()
