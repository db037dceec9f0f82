"""Benchmark: song detection's precision and recall on a labelled set of generated audio.

The set (tests/song_audio.py build_set, made fresh in a temp folder) is four clips, every
segment labelled; set 0 is the one the stage's defaults were set on, sets 1, 2, ... move
every song's key, tempo, vibrato and tunes, reorder the dialogue and swap the voices (held
out from that tuning; --seeds, default 0 1 2):

  film_songs      four sung songs (synthetic vowels holding the notes of a melody, with
                  vibrato; E3 to A4, 109-133 bpm; refrains and plain verses) over music beds,
                  between scenes of dialogue (espeak-ng, four voices) with and without music:
                  the songs' lines are the positives, the dialogue beside them negatives
  dialogue_music  ten distinct lines of dialogue over music beds: negatives
  dialogue_loud_music  the same with the music 6 dB up, louder than the speech: negatives
  repeated_noise  four lines said again and again (five rounds) over a noisy bed: negatives
  repeated_music  the same over a music bed: negatives

The songs stage runs on each clip as the runner starts it (`python -m stages.songs --job`,
whisperx venv), on the mixture alone and with separation (the clip's exact vocals and
accompaniment), and the lyrics flags are scored per segment: precision over every flag,
recall over the sung lines, and the flags per negative kind. Goal: precision >= 0.95 (no
dialogue styled as lyrics) and recall >= 0.8.

--root DIR runs the songs stage of another checkout on the same set (the comparison with an
earlier version: `--root /path/to/main`); --set songs.KEY=VALUE passes stage params.

Run:  .venvs/common/bin/python bench/songs_detection.py [--seeds 0 1 2] [--root DIR]
      [--set KEY=VALUE] [--json figures.json] [--keep]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    WHISPERX_PYTHON,
    bench_parser,
    busy_note,
    log,
    machine_info,
    print_machine,
    print_table,
    work_folder,
    write_figures,
)

MODES = ("mixture", "separated")
PRECISION_GOAL, RECALL_GOAL = 0.95, 0.8


def run_songs(clip: Path, folder: Path, code_root: Path, separated: bool,
              params: dict) -> tuple[list[bool], list[float | None], float]:
    """The songs stage on one clip: (lyrics flag per segment, singing score per segment
    (None from a version without one), wall seconds)."""
    from shared.stage import StageRequest
    from tests.helpers import write_stage_request

    job_dir = folder / "job"
    stage_dir = job_dir / "stages" / "06_songs"
    inputs = {"segments": clip / "aligned.json", "audio": clip / "audio_16k.wav"}
    if separated:
        inputs.update(vocals=clip / "vocals.wav", accompaniment=clip / "accompaniment.wav")
    request = StageRequest(job_id="job", job_dir=job_dir, stage="songs", key="songs",
                           stage_dir=stage_dir, deliverables_dir=job_dir / "subtitles",
                           title=clip.name, media=clip / "audio_16k.wav", params=params,
                           inputs=inputs)
    write_stage_request(request)
    started = time.perf_counter()
    proc = subprocess.run([str(WHISPERX_PYTHON), "-m", "stages.songs", "--job", str(job_dir)],
                          capture_output=True, text=True, cwd=code_root,
                          env={**os.environ, "PYTHONPATH": str(code_root)})
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"songs failed on {clip.name}:\n{proc.stderr[-3000:]}")
    output = json.loads((stage_dir / "segments.json").read_text("utf-8"))
    report = json.loads((stage_dir / "songs.json").read_text("utf-8"))
    singing = {r["index"]: r.get("singing_score") for r in report["segments"]}
    return ([bool(s["lyrics"]) for s in output["segments"]],
            [singing[i] for i in range(len(output["segments"]))], wall)


def score(flags: list[bool], truth: list[bool]) -> dict:
    hits = sum(f and t for f, t in zip(flags, truth, strict=True))
    flagged, positives = sum(flags), sum(truth)
    return {"flagged": flagged, "true_positives": hits, "false_positives": flagged - hits,
            "positives": positives, "negatives": len(truth) - positives,
            "precision": round(hits / flagged, 4) if flagged else 1.0,
            "recall": round(hits / positives, 4) if positives else None}


def margin(singing: list[float | None], truth: list[bool]) -> str:
    """The lowest singing score of a sung line and the highest of the rest: the room the
    singing_threshold has (n/a from a version without singing scores)."""
    sung = [s for s, t in zip(singing, truth, strict=True) if t and s is not None]
    rest = [s for s, t in zip(singing, truth, strict=True) if not t and s is not None]
    if not sung or not rest:
        return "n/a"
    return f"{min(sung):.2f} / {max(rest):.2f}"


def parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.removeprefix("songs.")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def main() -> None:
    parser = bench_parser(__doc__, rounds=1, rounds_help="unused (one run per clip)",
                          minutes=False)
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout whose songs stage runs (default: this one)")
    parser.add_argument("--set", dest="params", action="append", default=[],
                        metavar="songs.KEY=VALUE", help="a songs stage param (repeatable)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="the sets (0: the tuning set; others held out)")
    args = parser.parse_args()
    params = parse_params(args.params)
    machine = {**machine_info(), "loadavg_before": os.getloadavg()}
    results: dict = {}
    with work_folder("songs-bench-", args.keep) as folder:
        for seed in args.seeds:
            sets = folder / f"set{seed}"
            log(f"generating the labelled set {seed} (tests/song_audio.py build_set)")
            subprocess.run([str(WHISPERX_PYTHON), "-m", "tests.song_audio", str(sets),
                            "--set", "--seed", str(seed)], check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            clips = json.loads((sets / "set.json").read_text("utf-8"))
            for mode in MODES:
                flags_all, truth_all, singing_all, per_clip = [], [], [], {}
                for kind, manifest in clips.items():
                    log(f"set {seed}, {mode}: {kind}")
                    flags, singing, wall = run_songs(sets / kind, folder / f"{seed}-{mode}-{kind}",
                                            args.root.resolve(), mode == "separated", params)
                    per_clip[kind] = {**score(flags, manifest["truth"]),
                                      "wall_s": round(wall, 2),
                                      "audio_s": manifest["duration"]}
                    flags_all += flags
                    truth_all += manifest["truth"]
                    singing_all += singing
                results[f"{seed}/{mode}"] = {"seed": seed, "mode": mode,
                                             "overall": score(flags_all, truth_all),
                                             "clips": per_clip, "flags": flags_all,
                                             "truth": truth_all, "singing": singing_all}
    for mode in MODES:  # every set together
        runs = [r for r in results.values() if r["mode"] == mode]
        results[f"all/{mode}"] = {"seed": "all", "mode": mode, "overall": score(
            sum((r["flags"] for r in runs), []), sum((r["truth"] for r in runs), [])),
            "singing": sum((r["singing"] for r in runs), []),
            "truth": sum((r["truth"] for r in runs), [])}
    machine["loadavg_after"] = os.getloadavg()

    print("song detection on the labelled set (tests/song_audio.py build_set): lyrics flags "
          "per segment")
    print(f"code     {args.root.resolve()}" + (f", params {params}" if params else ""))
    print_machine(machine)
    print()
    rows = []
    for result in results.values():
        for kind, c in result.get("clips", {}).items():
            rows.append([str(result["seed"]), result["mode"], kind, str(c["positives"]),
                         str(c["negatives"]), str(c["true_positives"]),
                         str(c["false_positives"]), f"{c['wall_s']:.1f} s"])
    print_table(["set", "mode", "clip", "sung", "not sung", "flagged sung",
                 "flagged not sung", "stage wall"], rows)
    print()
    rows = []
    for result in results.values():
        o = result["overall"]
        met = o["precision"] >= PRECISION_GOAL and (o["recall"] or 0) >= RECALL_GOAL
        rows.append([str(result["seed"]), result["mode"], f"{o['precision']:.3f}",
                     f"{o['recall']:.3f}", f"{o['false_positives']} of {o['negatives']}",
                     margin(result["singing"], result["truth"]), "met" if met else "NOT met"])
    print_table(["set", "mode", "precision", "recall", "dialogue flagged",
                 "singing: sung min / not sung max",
                 f"goal P>={PRECISION_GOAL} R>={RECALL_GOAL}"], rows)
    note = busy_note(machine)
    if note:
        print(f"\nnote: {note}")
    write_figures({"machine": machine, "code": str(args.root.resolve()), "params": params,
                   "results": results}, args.json)


if __name__ == "__main__":
    main()
