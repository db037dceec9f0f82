"""Benchmark: the asr stage's peak memory against the film's length (issue 13.6).

Each film (bench/film_maker.py, cached under .cache/bench/long_film/ as bench/long_film.py's)
is prepared as a transcribe job and run up to asr (./run-pipeline.sh --to asr) with the
embedded base model in a throw-away model cache: demux, metadata and glossary run first, then
asr in its own process as the runner starts it (the whisperx venv's variables from
config/environments.toml included). Printed per film: asr's peak RSS (lock.json info
peak_rss_mb, which shared/stage_main.py records), its process time and RTF, its chunks; over
the films, the peak RSS ratio of the longest to the shortest against the goal (<= 1.3 for
120 against 10 minutes), with the machine and its load (memory does not depend on the load,
time does).

--malloc compares glibc malloc settings in pairs: each film runs once per setting, the
settings alternating ("registry": config/environments.toml's variables for the whisperx venv;
"4mb": mmap / trim thresholds of 4 MB instead, set in the environment, which wins over the
registry's).

Run:  .venvs/common/bin/python bench/asr_memory.py [--minutes 10 30] [--json figures.json]
      [--malloc registry 4mb] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    busy_note,
    lock_stage,
    log,
    machine_info,
    prepare_job,
    print_machine,
    print_table,
    run_job,
    setup_cache,
    work_folder,
    write_figures,
)
from bench.film_maker import film  # noqa: E402

CACHE = ROOT / ".cache" / "bench" / "long_film"
RSS_RATIO_MAX = 1.3
# malloc settings to compare: variables put in the environment of the run (they win over
# config/environments.toml's)
MALLOC = {"registry": {},
          "1mb": {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "1048576"},
          "4mb": {"MALLOC_MMAP_THRESHOLD_": "4194304", "MALLOC_TRIM_THRESHOLD_": "4194304"},
          "4mb-trim1mb": {"MALLOC_MMAP_THRESHOLD_": "4194304",
                          "MALLOC_TRIM_THRESHOLD_": "1048576"}}


def one_film(minutes: float, folder: Path, malloc: str = "registry") -> dict:
    audio, manifest = film(CACHE, minutes)
    log(f"{minutes:g} min film: {manifest['duration']:.0f} s, malloc {malloc}")
    out = folder / f"out{minutes:g}-{malloc}"
    _, job_id = prepare_job(audio, out, folder / f"prepare{minutes:g}-{malloc}.log")
    saved = {k: os.environ.get(k) for k in MALLOC[malloc]}
    os.environ.update(MALLOC[malloc])
    try:
        run_job(job_id, out, folder / f"run{minutes:g}-{malloc}.log", "--to", "asr")
    finally:
        for key, value in saved.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value
    asr = lock_stage(out / job_id, "asr")
    duration = manifest["duration"]
    return {"minutes": minutes, "malloc": malloc, "audio_s": round(duration, 1),
            "peak_rss_mb": asr["info"]["peak_rss_mb"], "chunks": asr["info"].get("chunks"),
            "process_s": asr.get("duration_s"), "rtf": asr["info"].get("rtf")}


def report(fig: dict) -> None:
    print_machine(fig["machine"])
    films = fig["films"]
    print("\nasr stage (transcribe workflow, embedded base model, faster-whisper's own VAD)")
    print_table(["film", "malloc", "audio s", "chunks", "process s", "RTF", "peak RSS MB"],
                [[f"{f['minutes']:g} min", f.get("malloc", "registry"), f"{f['audio_s']:.0f}",
                  str(f["chunks"]),
                  str(f["process_s"]), str(f["rtf"]), f"{f['peak_rss_mb']:.0f}"]
                 for f in films])
    for malloc in dict.fromkeys(f.get("malloc", "registry") for f in films):
        runs = [f for f in films if f.get("malloc", "registry") == malloc]
        if len(runs) < 2:
            continue
        short, long = runs[0], runs[-1]
        ratio = long["peak_rss_mb"] / short["peak_rss_mb"]
        print(f"\nmalloc {malloc}: peak RSS {ratio:.2f}x for "
              f"{long['audio_s'] / short['audio_s']:.2f}x the audio (goal <= {RSS_RATIO_MAX} at "
              f"120 against 10 minutes): {'met' if ratio <= RSS_RATIO_MAX else 'NOT met'}")
    note = busy_note(fig["machine"])
    if note:
        print(f"\nnote: {note} (the times, not the memory)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30],
                        help="film lengths (default 10 30)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--malloc", nargs="+", choices=sorted(MALLOC), default=["registry"],
                        help="malloc settings to compare, alternating per film")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with work_folder("asr-memory-", args.keep) as folder:
        setup_cache(folder)
        films = [one_film(m, folder, malloc) for m in sorted(args.minutes)
                 for malloc in args.malloc]
    fig = {"machine": {**machine_info(), "loadavg_before": load_before,
                       "loadavg_after": os.getloadavg()}, "films": films}
    report(fig)
    write_figures(fig, args.json)


if __name__ == "__main__":
    main()
