"""Benchmark: the asr stage against faster-whisper called directly, and its backends.

On a few minutes of real speech (the shared recordings concatenated, as in
transcribe_overhead.py) with the embedded Systran/faster-whisper-base and a throw-away model
cache, it measures:

  direct      faster-whisper called directly in the whisperx venv (transcribe_overhead's
              direct child) with the settings the asr stage resolves by default: its own
              model load + transcribe time, its whole wall time and peak RSS.
  sequential  the asr stage (backend faster-whisper, the CPU default) through
              ./prepare-job.sh + ./run-pipeline.sh: demux first, then `--only asr` alone.
              Stage = model load (asr.log "loaded ... in X s") + process (lock.json
              duration_s: decode, transcribe, hallucination pass, segments.json); the whole
              stage process is pipeline.log's "asr: done in"; peak RSS via wait4 on the run
              (the largest of the runner and the asr process; the runner alone is printed).
  batched     the same with --set asr.backend=batched, asr.batch_size=4 and 8
              (faster-whisper's BatchedInferencePipeline over its VAD chunks).

Printed: wall time, RTF (process / audio), load, peak RSS, and the word error rate of each
stage transcript against the sequential one (the sequential against the direct child's).
Target (from the issue): stage (load + process) / direct (load + transcribe) <= 1.10.

--rounds N measures every line N times (direct, sequential, batched 4, batched 8, then again;
later rounds re-run asr with --force asr) and keeps the fastest of each.

Run:  cd /work/main && .venvs/common/bin/python bench/asr_backends.py [--minutes 3]
      [--rounds 1] [--json figures.json] [--keep]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Measured,
    asr_log_times,
    bench_parser,
    build_speech,
    busy_note,
    direct_settings,
    lock_stage,
    log,
    machine_info,
    media_duration,
    prepare_job,
    print_machine,
    print_table,
    run_direct,
    run_job,
    segments_text,
    setup_cache,
    stage_dir,
    stage_walls,
    wer_between,
    work_folder,
    write_figures,
)

TARGET_RATIO = 1.10
BACKENDS = {  # name -> prepare-job arguments
    "sequential": (),
    "batched-4": ("--set", "asr.backend=batched", "--set", "asr.batch_size=4"),
    "batched-8": ("--set", "asr.backend=batched", "--set", "asr.batch_size=8"),
}


def measure_direct(settings: dict, cache, folder: Path, n: int) -> dict:
    run = run_direct({**settings, "return_text": True}, cache, folder, f"direct_{n}")
    return {**run.phases, "wall_s": run.measured.wall_s, "cpu_s": run.measured.cpu_s,
            "maxrss_mb": run.measured.maxrss_mb}


def measure_stage(job_id: str, out: Path, folder: Path, name: str, n: int) -> dict:
    """One run of the asr stage alone (demux already done)."""
    args = ("--only", "asr") if n == 1 else ("--only", "asr", "--force", "asr")
    measured = run_job(job_id, out, folder / f"run_{name}_{n}.log", *args)
    job_dir = out / job_id
    times = asr_log_times(job_dir)
    entry = lock_stage(job_dir, "asr")
    asr_dir = stage_dir(job_dir, "asr")
    params = json.loads((asr_dir / "request.json").read_text("utf-8"))["params"]
    removed = json.loads((asr_dir / "hallucinations.json").read_text("utf-8"))["removed"]
    load = times["load_s"] or 0.0
    return {"process_s": entry["duration_s"], "load_s": times["load_s"],
            "transcribe_s": times["transcribe_s"], "stage_s": load + entry["duration_s"],
            "wall_s": stage_walls(job_dir)["asr"], "run_wall_s": measured.wall_s,
            "run_cpu_s": measured.cpu_s, "maxrss_mb": measured.maxrss_mb,
            "backend": params["backend"], "batch_size": params["batch_size"],
            "segments": entry["info"]["segments"], "removed_by_filter": len(removed),
            "text": segments_text(job_dir)}


def runner_only(job_id: str, out: Path, folder: Path) -> Measured:
    """run-pipeline with every stage skipped: the runner's own share of the stage runs'
    wait4 figures (peak RSS, CPU time)."""
    return run_job(job_id, out, folder / "runner_only.log", "--only", "asr")


def print_report(fig: dict) -> None:
    print("=== asr backends benchmark (asr stage vs faster-whisper directly; batched) ===")
    print_machine(fig["machine"])
    s = fig["settings"]
    audio = fig["audio_s"]
    print(f"audio    {audio:.1f} s of real speech ({fig['audio_file']})")
    print(f"asr      {s['model']} {s['device']}/{s['compute_type']}, cpu_threads="
          f"{s['cpu_threads']}, beam 5, word timestamps, faster-whisper VAD filter, seeded")
    print(f"rounds   {fig['rounds']} (the fastest round of each line is shown)")
    print()
    d = fig["direct"]
    rows = [["faster-whisper directly", "-", f"{d['load_s'] + d['transcribe_s']:.2f} s",
             f"{d['wall_s']:.2f} s", f"{d['cpu_s']:.1f} s", f"{d['transcribe_s']:.2f} s",
             f"{d['transcribe_s'] / audio:.3f}", f"{d['load_s']:.2f} s",
             f"{d['maxrss_mb']:.0f} MB", f"{d['segments']}", "-", "-"]]
    for name, st in fig["stages"].items():
        ref = "direct" if name == "sequential" else "sequential"
        rows.append([f"asr stage, {name}", f"{st['backend']}/{st['batch_size']}",
                     f"{st['stage_s']:.2f} s", f"{st['wall_s']:.1f} s",
                     f"{st['cpu_s']:.1f} s", f"{st['process_s']:.2f} s",
                     f"{st['process_s'] / audio:.3f}",
                     "-" if st["load_s"] is None else f"{st['load_s']:.1f} s",
                     f"{st['maxrss_mb']:.0f} MB", f"{st['segments']}",
                     f"{st['removed_by_filter']}", f"{100 * st['wer']:.1f}% vs {ref}"])
    print_table(["line", "backend/batch", "load+transcribe", "process wall", "CPU", "transcribe",
                 "RTF", "model load", "peak RSS", "segments", "filtered", "WER"], rows)
    print("  load+transcribe: direct = the child's WhisperModel() + transcribe(); stage = asr.log")
    print("  'loaded ... in' (0.1 s resolution) + lock.json duration_s (process(): decode,")
    print("  transcribe, hallucination pass, segments.json). process wall: the whole process,")
    print("  interpreter and imports included (stage: pipeline.log 'asr: done in', 0.1 s).")
    print("  RTF = transcribe / audio (stage: lock.json duration_s). peak RSS: direct = the")
    print(f"  child; stage = wait4 over run-pipeline --only asr (runner alone: "
          f"{fig['runner_rss_mb']:.0f} MB, so the figure is the asr process).")
    print("  CPU: user + sys of the whole process (stage: of run-pipeline --only asr less the")
    print(f"  runner's own {fig['runner_cpu_s']:.1f} s). WER: lower-cased words without "
          "punctuation (tests.helpers.wer);")
    print("  it measures how much two transcripts disagree, not errors against a reference.")
    print()
    r = fig["ratio"]
    print(f"ratio stage/direct (load + transcribe) = {r['stage_over_direct']:.3f}   target <= "
          f"{TARGET_RATIO}: {'MET' if r['met'] else 'NOT MET'}   [whole process: "
          f"{r['wall_over_direct_wall']:.3f}, CPU time: {r['cpu_over_direct_cpu']:.3f}]")
    seq = fig["stages"]["sequential"]
    for name in ("batched-4", "batched-8"):
        st = fig["stages"][name]
        print(f"{name} vs sequential: x{st['process_s'] / seq['process_s']:.2f} transcribe time, "
              f"WER {100 * st['wer']:.1f}%")
    if fig["noise"]:
        print("caution, this run is noisy:")
        for line in fig["noise"]:
            print(f"  - {line}")


def main() -> int:
    parser = bench_parser(__doc__, rounds=1, minutes=True,
                          rounds_help="measure every line this many times, alternating; "
                          "keep the best")
    args = parser.parse_args()
    rounds = max(1, args.rounds)

    load_before = os.getloadavg()
    with work_folder("subpipe-bench-asr-", args.keep) as folder:
        audio = build_speech(folder, args.minutes)
        cache = setup_cache(folder)
        settings = direct_settings(cache, audio, "en")
        out = folder / "out"
        jobs = {}
        for name, extra in BACKENDS.items():
            _, jobs[name] = prepare_job(audio, out, folder / f"prepare_{name}.log", *extra)
            run_job(jobs[name], out, folder / f"demux_{name}.log", "--to", "demux")
        direct: list[dict] = []
        stages: dict[str, list[dict]] = {name: [] for name in BACKENDS}
        for n in range(1, rounds + 1):
            log(f"round {n}/{rounds}: faster-whisper directly ...")
            direct.append(measure_direct(settings, cache, folder, n))
            for name in BACKENDS:
                log(f"round {n}/{rounds}: asr stage, {name} ...")
                stages[name].append(measure_stage(jobs[name], out, folder, name, n))
        best_direct = min(direct, key=lambda r: r["load_s"] + r["transcribe_s"])
        best = {name: min(runs, key=lambda r: r["stage_s"]) for name, runs in stages.items()}
        runner = runner_only(jobs["sequential"], out, folder)
        for st in best.values():
            st["cpu_s"] = st["run_cpu_s"] - runner.cpu_s
        best["sequential"]["wer"] = wer_between(best_direct["text"], best["sequential"]["text"])
        for name in ("batched-4", "batched-8"):
            best[name]["wer"] = wer_between(best["sequential"]["text"], best[name]["text"])
        seq = best["sequential"]
        ratio = seq["stage_s"] / (best_direct["load_s"] + best_direct["transcribe_s"])
        machine = {**machine_info(), "loadavg_before": load_before,
                   "loadavg_after": os.getloadavg()}
        fig = {
            "machine": machine, "rounds": rounds, "audio_file": audio.name,
            "audio_s": round(media_duration(audio), 3),
            "settings": {"model": settings["model"], **settings["model_kwargs"]},
            "direct": {**best_direct,
                       "rounds_s": [round(r["load_s"] + r["transcribe_s"], 2) for r in direct]},
            "stages": {name: {**st, "job_id": jobs[name],
                              "rounds_s": [round(r["stage_s"], 2) for r in stages[name]]}
                       for name, st in best.items()},
            "runner_rss_mb": runner.maxrss_mb, "runner_cpu_s": runner.cpu_s,
            "ratio": {"stage_over_direct": ratio, "target": TARGET_RATIO,
                      "met": ratio <= TARGET_RATIO,
                      "wall_over_direct_wall": seq["wall_s"] / best_direct["wall_s"],
                      "cpu_over_direct_cpu": seq["cpu_s"] / best_direct["cpu_s"]},
            "noise": [n for n in [busy_note(machine)] if n],
        }
        for name, runs in [("direct", [r["load_s"] + r["transcribe_s"] for r in direct])] + [
                (k, [r["stage_s"] for r in v]) for k, v in stages.items()]:
            if len(runs) > 1 and (max(runs) - min(runs)) / min(runs) > 0.05:
                fig["noise"].append(f"{name}'s rounds differ by "
                                    f"{100 * (max(runs) / min(runs) - 1):.0f}%")
        print_report(fig)
        write_figures(fig, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
