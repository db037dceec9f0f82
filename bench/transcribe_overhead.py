"""Benchmark: what the pipeline costs on top of calling faster-whisper directly.

It builds a few minutes of real speech (the recordings in the shared speech folder,
concatenated with ffmpeg into one 16 kHz mono WAV), sets up a throw-away model cache and
hardware_cache.json the way tests/conftest.py does (the embedded Systran/faster-whisper-base
assembled from its PyPI parts), then measures:

  Figure A  faster-whisper called directly, in a child process running the whisperx venv's
            interpreter, with exactly the settings the asr stage uses by default (AsrParams
            defaults, the machine's device / compute type / cpu_threads): wall time of the
            whole child (interpreter start, imports, model load, transcription) and its peak
            RSS.
  Figure B  the same WAV through ./prepare-job.sh + ./run-pipeline.sh (workflow transcribe:
            demux, asr, subtitles), timed end to end, with the peak RSS of the largest
            single process in that tree.
  Figure C  a re-run of the finished job (every stage skipped).

A and B are measured --rounds times each (default 2), alternating A, B, A, B, and the
fastest round of each is reported: on a small shared machine one slow round says more about
the neighbours than about the pipeline. CPU time (user + sys of the whole child tree) is
printed beside wall time as a cross-check that is less sensitive to background load.

Targets (from the issue): B / A <= 1.15 on the CPU, and a re-run under 2 s.

Peak RSS comes from os.wait4() on each child: on Linux that is the largest resident set of
the child or of any descendant it waited for. It is the peak of ONE process, never the sum
of processes alive at the same time (the runner and its stage child overlap in B).

It also prints where B's time went, from the job's logs (pipeline.log "done in", asr.log
"loaded ... in", lock.json durations), so a ratio over target can be explained.

Run:  cd /work/main && .venvs/common/bin/python bench/transcribe_overhead.py [--minutes 3]
      [--rounds 2] [--json figures.json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers import ffmpeg, speech_dir  # noqa: E402

SPEECH_FILES = ("jfk.flac", "stereo_diarization.wav", "hotwords.mp3")
WHISPERX_PYTHON = ROOT / ".venvs" / "whisperx" / "bin" / "python"
TARGET_RATIO = 1.15
TARGET_RERUN_S = 2.0

# The child of Figure A: faster-whisper and nothing else. Settings arrive as JSON in argv[1];
# it prints one JSON line with its own phase timings.
DIRECT_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from faster_whisper import WhisperModel
t1 = time.perf_counter()
cfg = json.loads(sys.argv[1])
model = WhisperModel(cfg["model"], **cfg["model_kwargs"])
t2 = time.perf_counter()
import ctranslate2
ctranslate2.set_random_seed(cfg["seed"])
segments, info = model.transcribe(cfg["audio"], **cfg["transcribe_kwargs"])
count, words, last_end, fallbacks = 0, 0, 0.0, 0
for segment in segments:
    count += 1
    fallbacks += segment.temperature > 0
    words += len(segment.words or [])
    last_end = segment.end
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "transcribe_s": t3 - t2,
                  "segments": count, "fallbacks": fallbacks, "words": words,
                  "language": info.language, "last_end": last_end}))
"""


@dataclass
class Measured:
    """One measured child process (or a sequence of them)."""

    wall_s: float
    cpu_s: float  # user + sys of the child and every descendant it waited for
    maxrss_mb: float
    returncode: int

    def __add__(self, other: Measured) -> Measured:
        """Two processes run one after the other: times add up, peak RSS is the larger."""
        return Measured(self.wall_s + other.wall_s, self.cpu_s + other.cpu_s,
                        max(self.maxrss_mb, other.maxrss_mb), self.returncode or other.returncode)


# -- machine ---------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def machine_info() -> dict:
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu_model(), "cores": os.cpu_count(), "ram_gib": ram_gib(), "os": os_name(),
            "python": platform.python_version(),
            "whisperx_python": subprocess.run(
                [str(WHISPERX_PYTHON), "-c", "import platform; print(platform.python_version())"],
                capture_output=True, text=True).stdout.strip()}


# -- inputs ----------------------------------------------------------------------------------
def media_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "default=nw=1:nk=1", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def build_speech(folder: Path, minutes: float) -> Path:
    """Concatenate the real recordings over and over into ``minutes`` of 16 kHz mono WAV."""
    sources = [speech_dir() / name for name in SPEECH_FILES]
    lengths = [media_duration(p) for p in sources]
    target = minutes * 60.0
    parts: list[Path] = []
    total = 0.0
    while total < target:
        for path, length in zip(sources, lengths, strict=True):
            parts.append(path)
            total += length
    inputs: list[str] = []
    for part in parts:
        inputs += ["-i", str(part)]
    norm = "".join(f"[{i}:a]aresample=16000,aformat=sample_fmts=s16:channel_layouts=mono[a{i}];"
                   for i in range(len(parts)))
    chain = "".join(f"[a{i}]" for i in range(len(parts)))
    out = folder / f"speech_{minutes:g}min.wav"
    ffmpeg(*inputs, "-filter_complex", f"{norm}{chain}concat=n={len(parts)}:v=0:a=1[a]",
           "-map", "[a]", "-t", f"{target:.3f}", "-ar", "16000", "-ac", "1",
           "-c:a", "pcm_s16le", str(out))
    return out


def setup_cache(folder: Path):
    """A temporary model cache + hardware_cache.json, as tests/conftest.py's test_cache."""
    from shared.paths import HARDWARE_CACHE_ENV
    from tests.helpers import make_model_cache

    cache, path = make_model_cache(folder)
    os.environ[HARDWARE_CACHE_ENV] = str(path)
    return cache


def direct_settings(cache, audio: Path, language: str) -> dict:
    """WhisperModel / transcribe() arguments equal to what stages/asr.py resolves by default."""
    from shared.model_registry import load_models
    from stages.asr import AsrParams

    p = AsrParams()
    defaults = cache.defaults
    device = defaults.device if defaults.device in ("cpu", "cuda") else "cpu"
    compute = defaults.compute_type
    if device == "cpu" and compute in ("float16", "int8_float16", "bfloat16"):
        compute = "int8"
    model = load_models().resolve(defaults.profile, "asr", cache.cache.hf_hub_cache).repo_id
    return {
        "model": model,
        "audio": str(audio),
        "seed": p.seed,
        "model_kwargs": {"device": device, "compute_type": compute,
                         "cpu_threads": p.cpu_threads or defaults.cpu_threads,
                         "local_files_only": True},
        "transcribe_kwargs": {
            "language": language, "task": p.task, "beam_size": p.beam_size,
            "best_of": p.best_of, "temperature": p.temperatures,
            "condition_on_previous_text": p.condition_on_previous_text,
            "no_speech_threshold": p.no_speech_threshold,
            "log_prob_threshold": p.log_prob_threshold,
            "compression_ratio_threshold": p.compression_ratio_threshold,
            "hallucination_silence_threshold": p.hallucination_silence_threshold,
            "initial_prompt": p.initial_prompt, "hotwords": p.hotwords,
            "word_timestamps": p.word_timestamps, "vad_filter": p.vad_filter,
            "vad_parameters": {"min_silence_duration_ms": p.min_silence_duration_ms}},
    }


# -- measuring -------------------------------------------------------------------------------
def run_measured(cmd: list[str], log_file: Path, env: dict[str, str] | None = None
                 ) -> Measured:
    """Run ``cmd`` with stdout/stderr into ``log_file``; wall time, CPU time and peak RSS
    via wait4()."""
    with open(log_file, "w", encoding="utf-8") as handle:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL,
                                stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, tell Popen
    # ru_maxrss is in KiB on Linux, bytes on macOS
    scale = 2**20 if sys.platform == "darwin" else 2**10
    return Measured(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                    maxrss_mb=usage.ru_maxrss / scale, returncode=proc.returncode)


def check(measured: Measured, what: str, log_file: Path) -> None:
    if measured.returncode != 0:
        tail = "\n".join(log_file.read_text("utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"{what} failed (exit {measured.returncode}); log {log_file}:\n{tail}")


@dataclass
class DirectRun:
    measured: Measured
    phases: dict  # the child's own import / load / transcribe timings


@dataclass
class PipelineRun:
    prepare: Measured
    run: Measured
    job_id: str

    @property
    def total(self) -> Measured:
        return self.prepare + self.run


def figure_a(settings: dict, cache, folder: Path, n: int) -> DirectRun:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache.cache.hf_hub_cache),
           "PYTHONNOUSERSITE": "1"}
    log_file = folder / f"figure_a_{n}.log"
    measured = run_measured([str(WHISPERX_PYTHON), "-c", DIRECT_CHILD, json.dumps(settings)],
                            log_file, env)
    check(measured, "direct faster-whisper", log_file)
    return DirectRun(measured, json.loads(log_file.read_text("utf-8").strip().splitlines()[-1]))


def figure_b(audio: Path, out: Path, folder: Path, n: int) -> PipelineRun:
    prep_log = folder / f"prepare_{n}.log"
    prep = run_measured([str(ROOT / "prepare-job.sh"), "--media", str(audio), "-s", "en",
                         "--out", str(out)], prep_log)
    check(prep, "prepare-job.sh", prep_log)
    # prepare prints the job id last on stdout; its stderr lines share the log, so take the
    # last line that names a job folder.
    job_id = next(line.strip() for line in reversed(prep_log.read_text("utf-8").splitlines())
                  if line.strip() and (out / line.strip()).is_dir())
    run_log = folder / f"run_{n}.log"
    run = run_measured([str(ROOT / "run-pipeline.sh"), "-j", job_id, "--out", str(out)],
                       run_log)
    check(run, "run-pipeline.sh", run_log)
    return PipelineRun(prep, run, job_id)


def figure_c(job_id: str, out: Path, folder: Path) -> tuple[Measured, str]:
    log_file = folder / "rerun.log"
    rerun = run_measured([str(ROOT / "run-pipeline.sh"), "-j", job_id, "--out", str(out)], log_file)
    check(rerun, "run-pipeline.sh (re-run)", log_file)
    summary = re.search(r"(\d+) ran, (\d+) skipped", log_file.read_text("utf-8"))
    return rerun, summary.group(0) if summary else "?"


def run_rounds(rounds: int, settings: dict, cache, audio: Path, out: Path, folder: Path
               ) -> tuple[list[DirectRun], list[PipelineRun]]:
    """A, B, A, B, ...: alternating spreads warm-up and background load over both figures."""
    direct, pipeline = [], []
    for n in range(1, rounds + 1):
        log(f"round {n}/{rounds}: figure A (direct faster-whisper) ...")
        direct.append(figure_a(settings, cache, folder, n))
        log(f"round {n}/{rounds}: figure B (prepare-job + run-pipeline) ...")
        pipeline.append(figure_b(audio, out, folder, n))
    return direct, pipeline


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- where B's time went ---------------------------------------------------------------------
def stage_dir(job_dir: Path, key: str) -> Path:
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    return job_dir / next(i["dir"] for i in job["stages"] if i["key"] == key)


def breakdown(job_dir: Path, prep: Measured, run: Measured) -> dict:
    """Split B into prepare, the runner's own time, and per stage: wall (pipeline.log), the
    process() time (lock.json duration_s), model load (asr.log) and the rest (interpreter
    start, imports, request/result IO)."""
    pipeline_log = (job_dir / "logs" / "pipeline.log").read_text("utf-8")
    stage_wall = {k: float(v) for k, v in re.findall(r"\s(\S+): done in ([\d.]+)s", pipeline_log)}
    lock = json.loads((job_dir / "lock.json").read_text("utf-8"))
    asr_log = (job_dir / "logs" / "asr.log").read_text("utf-8")
    load = re.search(r"loaded \S+ on \S+ in ([\d.]+)s", asr_log)
    transcribe = re.search(r"[\d.]+ s audio in ([\d.]+) s \(RTF", asr_log)
    stages = {}
    for key, wall in stage_wall.items():
        process = lock["stages"][key]["duration_s"]
        model_load = float(load.group(1)) if key == "asr" and load else None
        rest = wall - process - (model_load or 0.0)
        stages[key] = {"wall_s": wall, "process_s": process, "model_load_s": model_load,
                       "startup_imports_io_s": round(rest, 2)}
    return {"prepare_s": round(prep.wall_s, 2), "run_s": round(run.wall_s, 2),
            "stages": stages,
            "runner_outside_stages_s": round(run.wall_s - sum(stage_wall.values()), 2),
            "asr_transcribe_s": float(transcribe.group(1)) if transcribe else None}


def asr_mismatches(job_dir: Path, settings: dict) -> list[str]:
    """Differences between the pipeline's resolved asr params and Figure A's settings."""
    request = json.loads((stage_dir(job_dir, "asr") / "request.json").read_text("utf-8"))
    p, m, t = request["params"], settings["model_kwargs"], settings["transcribe_kwargs"]
    pairs = {"model": (p["model"], settings["model"]), "device": (p["device"], m["device"]),
             "compute_type": (p["compute_type"], m["compute_type"]),
             "cpu_threads": (p["cpu_threads"], m["cpu_threads"]),
             "temperatures": (p["temperatures"], t["temperature"]),
             "seed": (p["seed"], settings["seed"]),
             "min_silence_duration_ms": (p["min_silence_duration_ms"],
                                         t["vad_parameters"]["min_silence_duration_ms"])}
    for name in ("language", "task", "beam_size", "best_of", "condition_on_previous_text",
                 "no_speech_threshold", "log_prob_threshold", "compression_ratio_threshold",
                 "hallucination_silence_threshold", "initial_prompt", "hotwords",
                 "word_timestamps", "vad_filter"):
        pairs[name] = (p[name], t[name])
    return [f"{k}: pipeline {a!r} vs direct {b!r}" for k, (a, b) in pairs.items() if a != b]


# -- report ----------------------------------------------------------------------------------
def collect(args, audio: Path, settings: dict, direct: list[DirectRun],
            pipeline: list[PipelineRun], rerun: Measured, summary: str, out: Path,
            load_before: tuple[float, ...]) -> dict:
    """All figures in one dict (what --json writes). A and B are each the fastest round."""
    a = min(direct, key=lambda r: r.measured.wall_s)
    b = min(pipeline, key=lambda r: r.total.wall_s)
    job_dir = out / b.job_id
    segments = json.loads((stage_dir(job_dir, "asr") / "segments.json")
                          .read_text("utf-8"))["segments"]
    ratio = b.total.wall_s / a.measured.wall_s
    fig = {
        "machine": {**machine_info(), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "audio_file": audio.name, "audio_s": round(media_duration(audio), 3),
        "rounds": args.rounds,
        "settings": {"model": settings["model"], **settings["model_kwargs"]},
        "A": {**asdict(a.measured), **a.phases,
              "rounds_wall_s": [round(r.measured.wall_s, 2) for r in direct]},
        "B": {**asdict(b.total), "prepare_s": b.prepare.wall_s, "run_s": b.run.wall_s,
              "segments": len(segments),
              "fallbacks": sum(1 for seg in segments if seg["temperature"] > 0),
              "job_id": b.job_id,
              "rounds_wall_s": [round(r.total.wall_s, 2) for r in pipeline]},
        "C": {**asdict(rerun), "summary": summary},
        "ratio": ratio,
        "cpu_ratio": b.total.cpu_s / a.measured.cpu_s,
        "targets": {"ratio_max": TARGET_RATIO, "rerun_max_s": TARGET_RERUN_S,
                    "ratio_met": ratio <= TARGET_RATIO, "rerun_met": rerun.wall_s < TARGET_RERUN_S},
        "breakdown": breakdown(job_dir, b.prepare, b.run),
        "mismatches": asr_mismatches(job_dir, settings),
    }
    fig["fixed_overhead"] = fixed_overhead(fig)
    fig["noise"] = noise(fig)
    return fig


def fixed_overhead(fig: dict) -> dict:
    """B - A without model load and transcription: what the pipeline adds whatever the audio
    length, and much less noisy than the wall-time ratio on a busy machine. The expected
    ratio assumes both transcribe at A's speed."""
    a, bd = fig["A"], fig["breakdown"]
    if bd["asr_transcribe_s"] is None:
        return {}
    a_fixed = a["wall_s"] - a["load_s"] - a["transcribe_s"]
    b_fixed = (fig["B"]["wall_s"] - (bd["stages"]["asr"]["model_load_s"] or 0.0)
               - bd["asr_transcribe_s"])
    added = b_fixed - a_fixed
    return {"direct_s": round(a_fixed, 2), "pipeline_s": round(b_fixed, 2),
            "added_s": round(added, 2), "expected_ratio": round(1 + added / a["wall_s"], 3)}


def noise(fig: dict) -> list[str]:
    """Reasons to distrust this run's wall-time ratio."""
    notes = []
    for name in ("A", "B"):
        walls = fig[name]["rounds_wall_s"]
        if len(walls) > 1 and (max(walls) - min(walls)) / min(walls) > 0.05:
            notes.append(f"{name}'s rounds differ by {100 * (max(walls) / min(walls) - 1):.0f}%")
    load = fig["machine"]["loadavg_after"][0]
    if load > 0.5 * (fig["machine"]["cores"] or 1) + 1:
        notes.append(f"1-min load average {load:.2f} on {fig['machine']['cores']} cores: "
                     "other processes competed for the CPU")
    a, b = fig["A"], fig["B"]
    if (a["segments"], a["fallbacks"]) != (b["segments"], b["fallbacks"]):
        notes.append(f"A decoded {a['segments']} segments ({a['fallbacks']} at T > 0), B "
                     f"{b['segments']} ({b['fallbacks']} at T > 0): temperature fallback "
                     "samples at random, so the decoding work differs between runs")
    return notes


def print_header(fig: dict) -> None:
    m, s = fig["machine"], fig["settings"]
    print("=== transcribe overhead benchmark ===")
    print(f"date     {m['date']}")
    print(f"machine  {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM")
    print(f"os       {m['os']}")
    print(f"python   {m['python']} (common venv), {m['whisperx_python']} (whisperx venv)")
    print(f"load     1/5/15-min load average {fmt_load(m['loadavg_before'])} before, "
          f"{fmt_load(m['loadavg_after'])} after")
    print(f"audio    {fig['audio_s']:.1f} s of real speech ({fig['audio_file']})")
    print(f"asr      {s['model']} {s['device']}/{s['compute_type']}, "
          f"cpu_threads={s['cpu_threads']}, beam 5, word timestamps, VAD")
    print(f"rounds   {fig['rounds']} (A, B alternating; the fastest round of each is shown)")


def fmt_load(load) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def fmt_rounds(figure: dict) -> str:
    return ", ".join(f"{x:.2f}" for x in figure["rounds_wall_s"])


def print_figures(fig: dict) -> None:
    a, b, c = fig["A"], fig["B"], fig["C"]
    print(f"A  direct faster-whisper   {a['wall_s']:7.2f} s wall  {a['cpu_s']:7.2f} s CPU  "
          f"peak RSS {a['maxrss_mb']:5.0f} MB")
    print(f"     import {a['import_s']:.2f} s, load {a['load_s']:.2f} s, transcribe "
          f"{a['transcribe_s']:.2f} s; {a['segments']} segments ({a['fallbacks']} at T > 0); "
          f"rounds: {fmt_rounds(a)} s")
    print(f"B  prepare + run-pipeline  {b['wall_s']:7.2f} s wall  {b['cpu_s']:7.2f} s CPU  "
          f"peak RSS {b['maxrss_mb']:5.0f} MB")
    print(f"     prepare {b['prepare_s']:.2f} s, run {b['run_s']:.2f} s; {b['segments']} "
          f"segments ({b['fallbacks']} at T > 0); rounds: {fmt_rounds(b)} s")
    print(f"C  re-run (all skipped)    {c['wall_s']:7.2f} s wall  {c['cpu_s']:7.2f} s CPU  "
          f"peak RSS {c['maxrss_mb']:5.0f} MB   ({c['summary']})")
    print()
    t = fig["targets"]
    print(f"ratio B/A = {fig['ratio']:.3f} (wall)   target <= {TARGET_RATIO}: "
          f"{'MET' if t['ratio_met'] else 'NOT MET'}   [CPU-time ratio {fig['cpu_ratio']:.3f}]")
    print(f"re-run    = {c['wall_s']:.2f} s   target < {TARGET_RERUN_S:g} s: "
          f"{'MET' if t['rerun_met'] else 'NOT MET'}")
    print("note: peak RSS is the largest single process (os.wait4 on the child tree), not the")
    print("      sum of processes alive together (B's runner and its stage child overlap).")
    if fig["mismatches"]:
        print("WARNING: the pipeline's asr settings differ from Figure A's:")
        for line in fig["mismatches"]:
            print(f"  {line}")


def print_breakdown(fig: dict) -> None:
    a, b, bd = fig["A"], fig["B"], fig["breakdown"]
    print("where B's time went (job logs: pipeline.log, asr.log, lock.json):")
    print(f"  prepare-job.sh (wrapper, CLI start, probe, job.json)    {bd['prepare_s']:6.2f} s")
    print(f"  run-pipeline.sh outside stage processes (CLI, planning) "
          f"{bd['runner_outside_stages_s']:6.2f} s")
    for key, st in bd["stages"].items():
        load = f", model load {st['model_load_s']:.2f}" if st["model_load_s"] is not None else ""
        print(f"  stage {key:<18} {st['wall_s']:6.2f} s  (process {st['process_s']:.2f}{load}, "
              f"start-up/imports/IO {st['startup_imports_io_s']:.2f})")
    direct_other = a["wall_s"] - a["load_s"] - a["transcribe_s"]
    print(f"  for comparison, A: interpreter + imports {direct_other:.2f} s, load "
          f"{a['load_s']:.2f} s, transcribe {a['transcribe_s']:.2f} s")
    if bd["asr_transcribe_s"] is not None:
        print(f"  transcription alone: pipeline {bd['asr_transcribe_s']:.2f} s vs direct "
              f"{a['transcribe_s']:.2f} s")
    print(f"  total overhead B - A = {b['wall_s'] - a['wall_s']:.2f} s")
    fo = fig["fixed_overhead"]
    if fo:
        print(f"  fixed overhead (wall minus model load and transcription): pipeline "
              f"{fo['pipeline_s']:.2f} s vs direct {fo['direct_s']:.2f} s -> adds "
              f"{fo['added_s']:.2f} s; at equal transcription speed B/A = "
              f"{fo['expected_ratio']:.3f}")
    if fig["noise"]:
        print("caution, this run is noisy:")
        for line in fig["noise"]:
            print(f"  - {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of speech")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measure A and B this many times each, alternating; keep the best")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    if not WHISPERX_PYTHON.is_file():
        raise SystemExit(f"{WHISPERX_PYTHON} is missing: build it with ./bootstrap.sh")

    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="subpipe-bench-"))
    try:
        log(f"working in {folder}")
        audio = build_speech(folder, args.minutes)
        cache = setup_cache(folder)
        settings = direct_settings(cache, audio, "en")
        out = folder / "out"
        direct, pipeline = run_rounds(max(1, args.rounds), settings, cache, audio, out, folder)
        log("figure C: re-run of the finished job ...")
        best_job = min(pipeline, key=lambda r: r.total.wall_s).job_id
        rerun, summary = figure_c(best_job, out, folder)
        fig = collect(args, audio, settings, direct, pipeline, rerun, summary, out, load_before)
        print_header(fig)
        print()
        print_figures(fig)
        print()
        print_breakdown(fig)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(fig, indent=2) + "\n", encoding="utf-8")
            print(f"\nfigures written to {args.json}")
    finally:
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
