"""Benchmark: translation engines' throughput against batch size, with the tiny test models.

For each engine of ENGINES whose tiny-model builder exists, it builds the tiny random model
into a throw-away model cache under its real repo id (`python -m tests.tiny_<engine> HUB` in
the engine's venv), then runs one
child in the engine's venv through the EnvironmentManager (offline, the stage's environment)
that loads the engine by name with ``stages.translation.<engine>.load(model, "cpu", batch)``
and translates the same --lines generated Hindi lines (3-20 words) at batch sizes 1, 8 and 32.

Printed per engine and batch size: lines per second (translate() wall time; the fastest of
--rounds rounds), generate calls for the lines and per 1,000 lines (engine.generate_calls:
ceil(lines / batch) when batching works), the mean number of generated tokens per line where
the engine exposes them, and the model load time. The models are TINY and RANDOM (d_model 32,
one layer each side; the nllb one rarely emits end of sentence, so its batches run to their
max_new_tokens): the figures show the shape of the batching curve on this machine, not real
translation speed.

Run:  cd /work/main && .venvs/common/bin/python bench/translation_engines.py [--lines 64]
      [--rounds 1] [--num-beams 4] [--engines nllb,indictrans2] [--json figures.json] [--keep]
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    bench_parser,
    busy_note,
    log,
    machine_info,
    print_machine,
    print_table,
    work_folder,
    write_figures,
)

BATCH_SIZES = (1, 8, 32)
WORDS = ("नमस्ते दोस्तों आज हम दो बातें करेंगे आप कैसे हैं मैं ठीक हूँ यह एक परीक्षण वाक्य है "
         "क्या तुम कल आओगे हाँ ज़रूर फ़िल्म बहुत अच्छी थी").split()


@dataclass(frozen=True)
class BenchEngine:
    env: str  # the venv the engine (and its builder) runs in (config/environments.toml)
    builder: tuple[str, ...]  # `python -m <module> <hub> <args>` builds the tiny model
    model: str  # the repo id the builder installs and the engine loads by name
    pair: tuple[str, str, str, str]  # LanguagePair(source, target, source_flores, target_flores)


ENGINES = {
    "nllb": BenchEngine("nllb", ("tests.tiny_nllb",), "facebook/nllb-200-distilled-600M",
                        ("hi", "en", "hin_Deva", "eng_Latn")),
    "indictrans2": BenchEngine("indictrans2", ("tests.tiny_indictrans2", "--repo",
                                               "ai4bharat/indictrans2-indic-en-1B"),
                               "ai4bharat/indictrans2-indic-en-1B",
                               ("hi", "en", "hin_Deva", "eng_Latn")),
}

# In the engine's venv: settings as JSON in argv[1]; one "@@result" JSON line at the end.
CHILD = r"""
import importlib, json, platform, sys, time

t0 = time.perf_counter()
import torch
import transformers
from stages.translation.engine import LanguagePair

cfg = json.loads(sys.argv[1])
module = importlib.import_module("stages.translation." + cfg["engine"])
pair = LanguagePair(*cfg["pair"])
lines = cfg["lines"]
out = {"python": platform.python_version(), "torch": torch.__version__,
       "transformers": transformers.__version__, "import_s": time.perf_counter() - t0,
       "runs": []}
for batch in cfg["batch_sizes"]:
    started = time.perf_counter()
    engine = module.load(cfg["model"], "cpu", batch, num_beams=cfg["num_beams"])
    load_s = time.perf_counter() - started
    engine.translate(lines[:2], pair)  # warm-up
    for n in range(cfg["rounds"]):
        calls = engine.generate_calls
        started = time.perf_counter()
        result = engine.translate(lines, pair)
        wall = time.perf_counter() - started
        assert len(result) == len(lines)
        ids = getattr(engine, "last_token_ids", None)
        out["runs"].append({
            "batch_size": batch, "round": n + 1, "load_s": load_s, "translate_s": wall,
            "generate_calls": engine.generate_calls - calls, "threads": torch.get_num_threads(),
            "tokens_per_line": (sum(max(0, len(i) - 1) for i in ids) / len(lines)
                                if ids else None)})
        print(f"batch {batch} round {n + 1}: {len(lines) / wall:.1f} lines/s", flush=True)
print("@@result " + json.dumps(out))
"""


def make_lines(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))) for _ in range(count)]


def available(name: str) -> str | None:
    """None if the engine can be measured here, else why not."""
    spec = ENGINES[name]
    if importlib.util.find_spec(spec.builder[0]) is None:
        return f"its tiny-model builder {spec.builder[0]} does not exist yet"
    if not (ROOT / "stages" / "translation" / f"{name}.py").is_file():
        return f"stages/translation/{name}.py does not exist yet"
    from shared import venvs
    from shared.env_registry import load_registry

    env = load_registry().get(spec.env)
    state, why = venvs.venv_state(env.venv_dir, env.lock_file)
    return None if state == "ready" else f"the {spec.env} venv is {state} ({why})"


def measure(name: str, folder: Path, lines: list[str], rounds: int, num_beams: int) -> dict:
    from shared.environment_manager import EnvironmentManager
    from tests.helpers import make_model_cache

    spec = ENGINES[name]
    cache, _ = make_model_cache(folder / name, embedded=False)
    manager = EnvironmentManager(cache)
    log(f"{name}: building the tiny model ({spec.builder[0]}) ...")
    module, *extra = spec.builder
    built = manager.run_in_environment(
        spec.env, ["-m", module, str(cache.cache.hf_hub_cache), *extra],
        log_paths=[folder / f"{name}_build.log"], timeout=600)
    if not built.ok:
        raise SystemExit(f"building the tiny {name} failed:\n" + "\n".join(built.tail))
    settings = {"engine": name, "model": spec.model, "pair": list(spec.pair), "lines": lines,
                "batch_sizes": list(BATCH_SIZES), "rounds": rounds, "num_beams": num_beams}
    log(f"{name}: translating {len(lines)} lines at batch sizes {BATCH_SIZES} ...")
    output: list[str] = []
    result = manager.run_in_environment(
        spec.env, ["-c", CHILD, json.dumps(settings, ensure_ascii=False)],
        log_paths=[folder / f"{name}.log"], on_line=output.append, timeout=3600)
    found = [line for line in output if line.startswith("@@result ")]
    if not result.ok or not found:
        raise SystemExit(f"{name} failed; log {folder / f'{name}.log'}:\n"
                         + "\n".join(output[-30:]))
    child = json.loads(found[-1].removeprefix("@@result "))
    best = {}
    for run in child.pop("runs"):
        b = run["batch_size"]
        if b not in best or run["translate_s"] < best[b]["translate_s"]:
            best[b] = run
    per_batch = {}
    for b, run in sorted(best.items()):
        per_batch[str(b)] = {
            **run, "lines_per_s": len(lines) / run["translate_s"],
            "generate_calls_per_1000_lines": 1000 * run["generate_calls"] / len(lines)}
    return {**child, "env": spec.env, "model": spec.model, "pair": list(spec.pair),
            "batches": per_batch}


def print_report(fig: dict) -> None:
    print("=== translation engines: lines/s against batch size (tiny random models, CPU) ===")
    print_machine(fig["machine"])
    print(f"lines    {fig['lines']} generated Hindi lines of 3-20 words, hi -> en, "
          f"num_beams {fig['num_beams']}; fastest of {fig['rounds']} round(s)")
    for name, eng in fig["engines"].items():
        print(f"{name:<8} {eng['env']} venv: python {eng['python']}, torch {eng['torch']}, "
              f"transformers {eng['transformers']}; tiny {eng['model']}")
    print()
    rows = []
    for name, eng in fig["engines"].items():
        base = eng["batches"][str(BATCH_SIZES[0])]["lines_per_s"]
        for b, run in eng["batches"].items():
            tokens = run["tokens_per_line"]
            rows.append([name, b, f"{run['lines_per_s']:.1f}", f"x{run['lines_per_s'] / base:.2f}",
                         f"{run['generate_calls']} ({run['generate_calls_per_1000_lines']:.0f})",
                         "-" if tokens is None else f"{tokens:.0f}", f"{run['translate_s']:.2f} s",
                         f"{run['load_s']:.2f} s", f"{run['threads']}"])
    print_table(["engine", "batch", "lines/s", "vs batch 1", "generate calls (per 1000 lines)",
                 "tokens/line", "translate", "load", "threads"], rows)
    print("  lines/s: lines / translate() wall time (tokenizing, generate, scoring the chosen")
    print("  tokens, decoding). tokens/line: generated tokens per line (with the forced language")
    print("  token); a tiny random model rarely stops early, so each batch runs to its")
    print("  max_new_tokens (about twice its longest input + 10).")
    for name, why in fig["skipped"].items():
        print(f"{name}: not measured: {why}")
    if fig["noise"]:
        print("caution, this run is noisy:")
        for line in fig["noise"]:
            print(f"  - {line}")


def main() -> int:
    parser = bench_parser(__doc__, rounds=1, minutes=False,
                          rounds_help="translate the lines this many times per batch size; "
                          "keep the fastest")
    parser.add_argument("--lines", type=int, default=64, help="lines to translate")
    parser.add_argument("--num-beams", type=int, default=4, help="beam search width")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated, from: {', '.join(ENGINES)}")
    args = parser.parse_args()
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    skipped = {n: why for n in names if (why := available(n))}
    if len(skipped) == len(names):
        raise SystemExit("nothing to measure: " + "; ".join(f"{n}: {w}" for n, w in
                                                           skipped.items()))
    lines = make_lines(args.lines)
    load_before = os.getloadavg()
    with work_folder("subpipe-bench-translation-", args.keep) as folder:
        engines = {n: measure(n, folder, lines, max(1, args.rounds), args.num_beams)
                   for n in names if n not in skipped}
    machine = {**machine_info(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    fig = {"machine": machine, "lines": len(lines), "rounds": max(1, args.rounds),
           "num_beams": args.num_beams, "batch_sizes": list(BATCH_SIZES), "engines": engines,
           "skipped": skipped, "noise": [n for n in [busy_note(machine)] if n]}
    print_report(fig)
    write_figures(fig, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
