"""Benchmark: the transcribe workflow on generated films of 10, 30 and 120 minutes.

Each film (bench/film_maker.py: distinct sentences in two voices with known times, dialogue
over a quiet score, score-only passages, silences; cached under .cache/bench/long_film/ keyed
by its parameters) goes through ./prepare-job.sh + ./run-pipeline.sh as a user runs them,
with the embedded base model in a throw-away model cache. Printed per film:

  per stage   wall time (pipeline.log), RTF (wall / film length), peak RSS of the stage
              process (lock.json info peak_rss_mb, which shared/stage_main.py records)
  job folder  size by kind: 16 kHz WAV, stems (source separation, with --separate), JSON
              (+ JSONL), the rest (subtitles, logs); and after `run-pipeline.sh --prune`
  quality     WER of the SRT against the known text; cues over no speech (inside a score-only
              passage or a silence); cues styled as song lyrics (there is no singing);
              cue-end overrun p50 / p95 (cue end minus the end of the last line it overlaps)

and, over the films, the goals: time linear in length (t_long / t_short <= 1.1 x the length
ratio: 13.2 for 120 / 10 minutes), peak RSS flat (rss_long / rss_short <= 1.3), the 2-hour
film under 4 minutes wall.

With --direct each film is also transcribed by faster-whisper called directly (a child in the
whisperx venv, the asr stage's default settings, glibc's own malloc settings:
bench/common.py direct_settings), so the pipeline's wall time has its reference on the same
audio and machine: the ratio says what the pipeline adds, the direct time what the model
alone costs here.

Run:  .venvs/common/bin/python bench/long_film.py [--minutes 10 30 120] [--separate]
      [--direct] [--json figures.json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    busy_note,
    direct_settings,
    log,
    machine_info,
    prepare_job,
    print_machine,
    print_table,
    run_direct,
    run_job,
    setup_cache,
    stage_walls,
    wer_between,
    work_folder,
    write_figures,
)
from bench.film_maker import film  # noqa: E402
from tests.film_audio import Sentence, cue_end_overruns, percentile  # noqa: E402

CACHE = ROOT / ".cache" / "bench" / "long_film"
TIME_SLACK = 1.1  # time may grow 10 % faster than the length
RSS_RATIO_MAX = 1.3
LONG_WALL_MAX_S = 240.0  # the 2-hour film, prepare + run


def folder_sizes(job_dir: Path) -> dict[str, int]:
    """Bytes under the job folder by kind: wav (16 kHz and other WAVs but the stems), stems
    (source separation's outputs), json (.json and .jsonl), other."""
    sizes = {"wav": 0, "stems": 0, "json": 0, "other": 0}
    for path in job_dir.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        if "source_separation" in path.parent.name and path.suffix == ".wav":
            sizes["stems"] += size
        elif path.suffix == ".wav":
            sizes["wav"] += size
        elif path.suffix in (".json", ".jsonl"):
            sizes["json"] += size
        else:
            sizes["other"] += size
    sizes["total"] = sum(sizes.values())
    return sizes


def srt_cues(job_dir: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of the job's source-language SRT."""
    import pysubs2

    path = next((job_dir / "subtitles").glob("*.srt"))
    return [(e.start / 1000, e.end / 1000, e.plaintext)
            for e in pysubs2.load(str(path), "utf-8")]


def quality(job_dir: Path, manifest: dict) -> dict:
    truth = [Sentence(s["start"], s["end"], s["text"]) for s in manifest["sentences"]]
    cues = srt_cues(job_dir)
    text = " ".join(t.replace("\n", " ").replace("♪", " ") for _, _, t in cues)
    over_nothing = [(a, b) for a, b, _ in cues
                    if not any(s.start < b and a < s.end for s in truth)]
    in_score = [(a, b) for a, b in over_nothing
                if any(p["start"] < b and a < p["end"] for p in manifest["score"])]
    overruns = cue_end_overruns([(a, b) for a, b, _ in cues], truth)
    return {"cues": len(cues), "wer": round(wer_between(" ".join(s.text for s in truth), text), 4),
            "cues_in_score": len(in_score), "cues_in_silence": len(over_nothing) - len(in_score),
            "song_styled": sum(1 for _, _, t in cues if "♪" in t),
            "overrun_p50": round(percentile(overruns, 50), 3) if overruns else None,
            "overrun_p95": round(percentile(overruns, 95), 3) if overruns else None}


def direct(audio: Path, cache, folder: Path, minutes: float) -> dict:
    """faster-whisper called directly on the film: wall time and peak RSS of the child."""
    run = run_direct(direct_settings(cache, audio, "en"), cache, folder, f"direct{minutes:g}")
    return {"direct_wall_s": round(run.measured.wall_s, 1),
            "direct_peak_rss_mb": round(run.measured.maxrss_mb, 1)}


def one_film(minutes: float, args, folder: Path, cache=None) -> dict:
    started = time.perf_counter()
    audio, manifest = film(CACHE, minutes)
    made_s = time.perf_counter() - started
    log(f"{minutes:g} min film: {manifest['duration']:.0f} s, {len(manifest['sentences'])} "
        f"lines ({made_s:.1f} s to make or find)")
    out = folder / f"out{minutes:g}"
    extra = ["--separate"] if args.separate else []
    prep, job_id = prepare_job(audio, out, folder / f"prepare{minutes:g}.log", *extra)
    run = run_job(job_id, out, folder / f"run{minutes:g}.log")
    job_dir = out / job_id
    lock = json.loads((job_dir / "lock.json").read_text("utf-8"))["stages"]
    duration = manifest["duration"]
    stages = {key: {"wall_s": wall, "rtf": round(wall / duration, 4),
                    "peak_rss_mb": lock[key]["info"].get("peak_rss_mb")}
              for key, wall in stage_walls(job_dir).items()}
    wall = prep.wall_s + run.wall_s
    sizes = folder_sizes(job_dir)
    run_job(job_id, out, folder / f"prune{minutes:g}.log", "--prune")
    sizes["after_prune"] = folder_sizes(job_dir)["total"]
    measured = direct(audio, cache, folder, minutes) if args.direct else {}
    return {"minutes": minutes, "audio_s": round(duration, 1), **measured,
            "lines": len(manifest["sentences"]), "wall_s": round(wall, 1),
            "rtf": round(wall / duration, 4),
            "peak_rss_mb": max((s["peak_rss_mb"] or 0) for s in stages.values()),
            "stages": stages, "sizes": sizes, **quality(job_dir, manifest)}


def goals(films: list[dict]) -> dict:
    """Shortest against longest film: time ratio, peak RSS ratio, the 2-hour wall."""
    short, long = films[0], films[-1]
    length = long["audio_s"] / short["audio_s"]
    out = {"length_ratio": round(length, 2),
           "time_ratio": round(long["wall_s"] / short["wall_s"], 2),
           "time_ratio_max": round(TIME_SLACK * length, 2),
           "rss_ratio": round(long["peak_rss_mb"] / short["peak_rss_mb"], 2),
           "rss_ratio_max": RSS_RATIO_MAX}
    out["time_met"] = out["time_ratio"] <= out["time_ratio_max"]
    out["rss_met"] = out["rss_ratio"] <= RSS_RATIO_MAX
    two_hours = [f for f in films if f["minutes"] >= 120]
    if two_hours:
        out["two_hour_wall_s"] = two_hours[0]["wall_s"]
        out["two_hour_met"] = two_hours[0]["wall_s"] < LONG_WALL_MAX_S
    return out


def mb(n: int) -> str:
    return f"{n / 2**20:.1f}"


def report(fig: dict) -> None:
    print_machine(fig["machine"])
    films = fig["films"]
    keys = list(dict.fromkeys(k for f in films for k in f["stages"]))
    print("\nper stage: wall s / RTF / peak RSS MB")
    print_table(["stage"] + [f"{f['minutes']:g} min" for f in films],
                [[k] + [(f"{s['wall_s']:.1f} / {s['rtf']:.4f} / {s['peak_rss_mb']:.0f}"
                         if (s := f["stages"].get(k)) and s["peak_rss_mb"] else "-")
                        for f in films] for k in keys])
    print("\nfilm")
    rows = [("audio s", "audio_s"), ("lines", "lines"), ("wall s (prepare + run)", "wall_s"),
            ("RTF", "rtf"), ("peak RSS MB (largest stage)", "peak_rss_mb"),
            *([("direct faster-whisper: wall s", "direct_wall_s"),
               ("direct faster-whisper: peak RSS MB", "direct_peak_rss_mb")]
              if "direct_wall_s" in films[0] else []), ("cues", "cues"),
            ("WER", "wer"), ("cues in score-only passages", "cues_in_score"),
            ("cues in silences", "cues_in_silence"), ("song-styled cues", "song_styled"),
            ("cue-end overrun p50 s", "overrun_p50"), ("cue-end overrun p95 s", "overrun_p95")]
    print_table(["", *(f"{f['minutes']:g} min" for f in films)],
                [[name, *(str(f[key]) for f in films)] for name, key in rows])
    print("\njob folder MB")
    print_table(["", *(f"{f['minutes']:g} min" for f in films)],
                [[kind, *(mb(f["sizes"][kind]) for f in films)]
                 for kind in ("wav", "stems", "json", "other", "total", "after_prune")])
    if len(films) > 1:
        g = fig["goals"]
        print(f"\ntime  {g['time_ratio']}x for {g['length_ratio']}x the audio "
              f"(goal <= {g['time_ratio_max']}): {'met' if g['time_met'] else 'NOT met'}")
        print(f"RSS   {g['rss_ratio']}x (goal <= {g['rss_ratio_max']}): "
              f"{'met' if g['rss_met'] else 'NOT met'}")
    for f in films:
        if "direct_wall_s" in f:
            print(f"{f['minutes']:g} min: pipeline / direct faster-whisper = "
                  f"{f['wall_s'] / f['direct_wall_s']:.2f} (wall)")
    if "two_hour_wall_s" in fig.get("goals", {}):
        print(f"2-hour film {fig['goals']['two_hour_wall_s']:.0f} s wall (goal < "
              f"{LONG_WALL_MAX_S:.0f} s): {'met' if fig['goals']['two_hour_met'] else 'NOT met'}")
    note = busy_note(fig["machine"])
    if note:
        print(f"\nnote: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 120],
                        help="film lengths (default 10 30 120)")
    parser.add_argument("--separate", action="store_true",
                        help="isolate the dialogue with Demucs first (prepare-job --separate)")
    parser.add_argument("--direct", action="store_true",
                        help="also time faster-whisper called directly on each film")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with work_folder("long-film-", args.keep) as folder:
        cache = setup_cache(folder)
        films = [one_film(m, args, folder, cache) for m in sorted(args.minutes)]
    fig = {"machine": {**machine_info(), "loadavg_before": load_before,
                       "loadavg_after": os.getloadavg()},
           "separate": args.separate, "films": films}
    if len(films) > 1:
        fig["goals"] = goals(films)
    report(fig)
    write_figures(fig, args.json)


if __name__ == "__main__":
    main()
