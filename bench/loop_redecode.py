"""Benchmark: a removed repetition loop's span decoded again (stages/asr/redecode.py), on the
generated film where the embedded base model looped on a user-style run (bench/film_maker.py,
10 minutes, seed 31: "VS. VS. VS. ..." over 250.5-308.5 s, from the film's track in an MKV).

The loop could not be reproduced from the film's WAV (nor from a Vorbis MKV of it): decoded
alone, that span's chunk gives its text at temperature 1.0. So the loop is put where the
decoder's output enters the filter: the asr stage's post-pass
(stages.asr.decode._remove_hallucinations, the embedded base model, the stage's defaults, in
the whisperx venv) gets one segment of "VS. " x 120 over the span, removes it and decodes the
span again. Printed: the outcome, the speech regions and decode passes, the wall time of the
post-pass, the WER of the new text against the known sentences of the span, and the share of
their speech time under the new segments (without the re-decode: no text, WER 1.0, 0 %).
The film is film_maker's current version: the user-style run's was version 1 (composed lines
in pool order); version 2 (033b90f) speaks them in a seeded random order, so the same span
holds other lines.

Run:  .venvs/common/bin/python bench/loop_redecode.py [--span 250.5 308.5] [--seed 31]
      [--json figures.json] [--keep]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import WHISPERX_PYTHON as PYTHON  # noqa: E402
from bench.common import (  # noqa: E402
    busy_note,
    check,
    last_json_line,
    log,
    machine_info,
    print_machine,
    print_table,
    run_measured,
    setup_cache,
    stage_env,
    wer_between,
    work_folder,
    write_figures,
)
from bench.film_maker import film  # noqa: E402
from bench.long_film import CACHE  # noqa: E402

# the post-pass with the real model over one injected loop; prints one JSON line
CHILD = r"""
import json, sys, time
from pathlib import Path
from types import SimpleNamespace
from stages.asr import AsrParams
from stages.asr.audio import open_audio
from stages.asr.decode import _load_model, _remove_hallucinations

wav, folder, lo, hi = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
params = AsrParams(model="Systran/faster-whisper-base", backend="faster-whisper", device="cpu",
                   compute_type="int8", language="en")
model = _load_model(params)
audio = open_audio(Path(wav))
loop = {"id": 0, "start": lo, "end": hi, "text": "VS. " * 120, "language": "en", "words": [],
        "avg_logprob": -0.3, "no_speech_prob": 0.0, "compression_ratio": 26.2,
        "temperature": 1.0}
result = {"decode_passes": 0, "segments": [loop]}
started = time.perf_counter()
kept = _remove_hallucinations(SimpleNamespace(output=lambda name: folder / name), params,
                              result, None, model, audio)
report = json.loads((folder / "hallucinations.json").read_text("utf-8"))
print(json.dumps({"post_pass_s": round(time.perf_counter() - started, 1),
                  "passes": result["decode_passes"], "kept": kept, "report": report}))
"""


def figures(child: dict, manifest: dict, lo: float, hi: float) -> dict:
    inside = [s for s in manifest["sentences"] if s["start"] >= lo - 0.5 and s["end"] <= hi + 0.5]
    speech = sum(s["end"] - s["start"] for s in inside)
    under = sum(max(0.0, min(s["end"], k["end"]) - max(s["start"], k["start"]))
                for s in inside for k in child["kept"])
    (row,) = child["report"]["redecoded"]
    return {"span": [lo, hi], "sentences": len(inside), "speech_s": round(speech, 1),
            "outcome": row["outcome"], "regions": len(row["regions"]),
            "passes": child["passes"], "post_pass_s": child["post_pass_s"],
            "wer": round(wer_between(" ".join(s["text"] for s in inside), row["text"]), 4),
            "coverage": round(under / speech, 4) if speech else None, "text": row["text"]}


def report(fig: dict) -> None:
    print_machine(fig["machine"])
    r = fig["result"]
    print(f"\nfilm: 10 min, seed {fig['seed']} (film_maker v{fig['film_version']}); loop "
          f"injected over {r['span'][0]}-{r['span'][1]} s ({r['sentences']} sentences, "
          f"{r['speech_s']} s of speech)")
    print_table(["", "removal only", "removal + re-decode"],
                [["outcome", "removed", r["outcome"]],
                 ["speech regions / decode passes", "-", f"{r['regions']} / {r['passes']}"],
                 ["post-pass wall s", "-", str(r["post_pass_s"])],
                 ["WER of the span", "1.0", str(r["wer"])],
                 ["speech under a segment", "0.0", str(r["coverage"])]])
    print(f"\nnew text: {r['text']}")
    note = busy_note(fig["machine"])
    if note:
        print(f"\nnote: {note}")


def main() -> None:
    from bench.film_maker import VERSION

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--span", type=float, nargs=2, default=[250.5, 308.5],
                        help="the loop's start and end in seconds (default 250.5 308.5)")
    parser.add_argument("--seed", type=int, default=31, help="the film's seed (default 31)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    load_before = os.getloadavg()
    wav, manifest = film(CACHE, 10, args.seed)
    with work_folder("loop-redecode-", args.keep) as folder:
        cache = setup_cache(folder)
        log_file = folder / "child.log"
        lo, hi = args.span
        run = run_measured([str(PYTHON), "-c", CHILD, str(wav), str(folder), str(lo), str(hi)],
                           log_file, stage_env(cache))
        check(run, "the asr post-pass", log_file)
        child = last_json_line(log_file)
    log(f"post-pass done in {child['post_pass_s']} s")
    fig = {"machine": {**machine_info(), "loadavg_before": load_before,
                       "loadavg_after": os.getloadavg()},
           "seed": args.seed, "film_version": VERSION,
           "result": figures(child, manifest, lo, hi)}
    report(fig)
    write_figures(fig, args.json)


if __name__ == "__main__":
    main()
