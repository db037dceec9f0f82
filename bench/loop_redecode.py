"""Benchmark: a removed repetition loop's span decoded again (stages/asr/redecode.py), before
and after, on a generated film where the embedded base model loops (bench/film_maker.py; the
10-minute film with seed 31 looped "VS. VS. VS. ..." over 250.5-308.5 s).

The film goes through ./prepare-job.sh -s en and ./run-pipeline.sh as a user runs them (the
transcribe workflow, embedded base, a throw-away model cache), once with
``--set asr.redecode_loops=false`` (the loop removed, its span left without text) and once with
the default (its span decoded again). Printed for each run: the SRT's WER against the known
sentences, the share of the sentences' speech time under a cue, the sentences with no cue at
all, the unsubtitled-speech spans in qc.json, each loop removed and each re-decode's outcome,
the asr stage's wall time and exit code.

Run:  .venvs/common/bin/python bench/loop_redecode.py [--minutes 10] [--seed 31]
      [--json figures.json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    busy_note,
    check,
    machine_info,
    prepare_job,
    print_machine,
    print_table,
    run_measured,
    setup_cache,
    stage_dir,
    stage_walls,
    wer_between,
    work_folder,
    write_figures,
)
from bench.film_maker import film  # noqa: E402
from bench.long_film import CACHE, srt_cues  # noqa: E402

DEGRADED = 3  # run-pipeline.sh's exit code for a job that finished degraded


def covered(start: float, end: float, cues: list[tuple[float, float, str]]) -> float:
    """Seconds of [start, end] under some cue (cues do not overlap each other)."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b, _ in cues)


def figures(job_dir: Path, manifest: dict) -> dict:
    """WER and coverage of the SRT against the known sentences, qc's unsubtitled speech, and
    asr's hallucinations.json (loops removed, re-decodes)."""
    truth = manifest["sentences"]
    cues = srt_cues(job_dir)
    text = " ".join(t.replace("\n", " ") for _, _, t in cues)
    speech = sum(s["end"] - s["start"] for s in truth)
    under = sum(covered(s["start"], s["end"], cues) for s in truth)
    qc = json.loads((stage_dir(job_dir, "subtitles:source") / "qc.json").read_text("utf-8"))
    report = json.loads((stage_dir(job_dir, "asr") / "hallucinations.json").read_text("utf-8"))
    return {"wer": round(wer_between(" ".join(s["text"] for s in truth), text), 4),
            "coverage": round(under / speech, 4),
            "sentences_without_cue": sum(1 for s in truth
                                         if covered(s["start"], s["end"], cues) == 0),
            "unsubtitled": [(round(s["start"], 1), round(s["end"], 1)) for s in
                            qc.get("unsubtitled_speech", {}).get("spans", [])],
            "loops": [(r["segment"]["start"], r["segment"]["end"], r["reason"])
                      for r in report["removed"] if r.get("kind") == "loop"],
            "redecoded": [{k: r[k] for k in ("start", "end", "outcome", "text")}
                          | {"regions": len(r["regions"])} for r in report.get("redecoded", [])],
            "asr_wall_s": stage_walls(job_dir).get("asr")}


def one_run(job_id: str, out: Path, folder: Path, manifest: dict, redecode: bool) -> dict:
    name = "after" if redecode else "before"
    log_file = folder / f"run-{name}.log"
    run = run_measured([str(ROOT / "run-pipeline.sh"), "-j", job_id, "--out", str(out),
                        "--set", f"asr.redecode_loops={str(redecode).lower()}"], log_file)
    check(run, f"run-pipeline.sh ({name})", log_file, ok=(0, DEGRADED))
    return {"run": name, "exit": run.returncode, "wall_s": round(run.wall_s, 1),
            **figures(out / job_id, manifest)}


def report(fig: dict) -> None:
    print_machine(fig["machine"])
    runs = fig["runs"]
    print(f"\nfilm: {fig['minutes']:g} min, seed {fig['seed']}, {fig['lines']} lines, "
          f"{fig['audio_s']:.0f} s")
    rows = [("exit code", "exit"), ("wall s (run)", "wall_s"), ("asr wall s", "asr_wall_s"),
            ("WER", "wer"), ("speech under a cue", "coverage"),
            ("sentences without a cue", "sentences_without_cue"),
            ("unsubtitled speech spans", "unsubtitled"), ("loops removed", "loops"),
            ("re-decoded", "redecoded")]
    print_table(["", *(r["run"] for r in runs)],
                [[name, *(str(r[key]) for r in runs)] for name, key in rows])
    note = busy_note(fig["machine"])
    if note:
        print(f"\nnote: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="film length (default 10)")
    parser.add_argument("--seed", type=int, default=31, help="the film's seed (default 31)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    audio, manifest = film(CACHE, args.minutes, args.seed)
    with work_folder("loop-redecode-", args.keep) as folder:
        setup_cache(folder)
        out = folder / "out"
        _, job_id = prepare_job(audio, out, folder / "prepare.log")
        runs = [one_run(job_id, out, folder, manifest, redecode) for redecode in (False, True)]
    fig = {"machine": {**machine_info(), "loadavg_before": load_before,
                       "loadavg_after": os.getloadavg()},
           "minutes": args.minutes, "seed": args.seed, "audio_s": manifest["duration"],
           "lines": len(manifest["sentences"]), "runs": runs}
    report(fig)
    write_figures(fig, args.json)


if __name__ == "__main__":
    main()
