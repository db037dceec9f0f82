"""What the benchmarks in bench/ share: the machine they ran on, building real-speech inputs,
a throw-away model cache, measuring a child process (wall, CPU, peak RSS), the direct
faster-whisper child, running jobs through the user-facing scripts and reading their logs.

Import it from a benchmark after putting the project root on sys.path:

    ROOT = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(ROOT))
    from bench.common import ...  # noqa: E402
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers import ffmpeg, speech_dir, stage_dir  # noqa: E402,F401 (stage_dir: re-exported)

# What a user's machine does: Python keeps the compiled bytecode of the project's modules
# (__pycache__, git-ignored) after their first import. A sandbox that sets
# PYTHONDONTWRITEBYTECODE makes every process the benchmarks start compile them again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

SPEECH_FILES = ("jfk.flac", "stereo_diarization.wav", "hotwords.mp3")
WHISPERX_PYTHON = ROOT / ".venvs" / "whisperx" / "bin" / "python"

# faster-whisper and nothing else, in the whisperx venv. Settings arrive as JSON in argv[1];
# it prints one JSON line with its own phase timings (and, with "return_text", the text).
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
count, words, last_end, fallbacks, texts = 0, 0, 0.0, 0, []
for segment in segments:
    count += 1
    fallbacks += segment.temperature > 0
    words += len(segment.words or [])
    last_end = segment.end
    texts.append(segment.text.strip())
t3 = time.perf_counter()
out = {"import_s": t1 - t0, "load_s": t2 - t1, "transcribe_s": t3 - t2,
       "segments": count, "fallbacks": fallbacks, "words": words,
       "language": info.language, "last_end": last_end}
if cfg.get("return_text"):
    out["text"] = " ".join(texts)
print(json.dumps(out))
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


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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


def venv_python_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True).stdout.strip()


def machine_info() -> dict:
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cpu": cpu_model(), "cores": os.cpu_count(), "ram_gib": ram_gib(), "os": os_name(),
            "python": platform.python_version(),
            "whisperx_python": venv_python_version(WHISPERX_PYTHON)}


def fmt_load(load) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def print_machine(machine: dict) -> None:
    """The date / machine / os / python / load lines every benchmark's header starts with.
    ``machine`` is machine_info() plus loadavg_before / loadavg_after."""
    m = machine
    print(f"date     {m['date']}")
    print(f"machine  {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM")
    print(f"os       {m['os']}")
    print(f"python   {m['python']} (common venv), {m['whisperx_python']} (whisperx venv)")
    print(f"load     1/5/15-min load average {fmt_load(m['loadavg_before'])} before, "
          f"{fmt_load(m['loadavg_after'])} after")


def busy_note(machine: dict) -> str | None:
    """A caution when other processes competed for the CPU during the run."""
    load = machine["loadavg_after"][0]
    if load > 0.5 * (machine["cores"] or 1) + 1:
        return (f"1-min load average {load:.2f} on {machine['cores']} cores: other processes "
                "competed for the CPU")
    return None


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain-text table, columns as wide as their widest cell (numbers right-aligned)."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]

    def numeric(cell: str) -> bool:
        return bool(re.fullmatch(r"[-+]?[\d.,]+\s*\S{0,3}|[-+]?[\d.]+x?", cell.strip()))

    def line(cells) -> str:
        return "  ".join(str(c).rjust(w) if numeric(str(c)) else str(c).ljust(w)
                         for c, w in zip(cells, widths, strict=True)).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


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
    """A temporary model cache + hardware_cache.json, as tests/conftest.py's test_cache;
    SUBPIPE_HARDWARE_CACHE points every command this process starts at it."""
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


def check(measured: Measured, what: str, log_file: Path, ok: tuple[int, ...] = (0,)) -> None:
    """Stop with the log's tail unless the command exited with one of ``ok``."""
    if measured.returncode not in ok:
        tail = "\n".join(log_file.read_text("utf-8", errors="replace").splitlines()[-30:])
        raise SystemExit(f"{what} failed (exit {measured.returncode}); log {log_file}:\n{tail}")


def last_json_line(log_file: Path) -> dict:
    """The JSON line a child printed last (its timings)."""
    return json.loads(next(line for line in reversed(log_file.read_text("utf-8").splitlines())
                           if line.startswith("{")))


@dataclass
class DirectRun:
    measured: Measured
    phases: dict  # the child's own import / load / transcribe timings


def run_direct(settings: dict, cache, folder: Path, name: str) -> DirectRun:
    """faster-whisper called directly (DIRECT_CHILD) in the whisperx venv's interpreter."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache.cache.hf_hub_cache),
           "PYTHONNOUSERSITE": "1"}
    log_file = folder / f"{name}.log"
    measured = run_measured([str(WHISPERX_PYTHON), "-c", DIRECT_CHILD, json.dumps(settings)],
                            log_file, env)
    check(measured, "direct faster-whisper", log_file)
    return DirectRun(measured, last_json_line(log_file))


def stage_env(cache, env: str = "whisperx") -> dict[str, str]:
    """The environment the EnvironmentManager gives a stage process in ``env`` (cache paths,
    offline, PYTHONPATH = the project): for children that call a stage's functions directly."""
    from shared.environment_manager import EnvironmentManager

    return EnvironmentManager(cache).build_env(env)


# -- jobs through the user-facing scripts ----------------------------------------------------
def prepare_job(audio: Path, out: Path, log_file: Path, *args: str) -> tuple[Measured, str]:
    """./prepare-job.sh --media AUDIO -s en --out OUT ARGS...; (its measurement, job id)."""
    prep = run_measured([str(ROOT / "prepare-job.sh"), "--media", str(audio), "-s", "en",
                         "--out", str(out), *args], log_file)
    check(prep, "prepare-job.sh", log_file)
    # prepare prints the job id last on stdout; its stderr lines share the log, so take the
    # last line that names a job folder.
    job_id = next(line.strip() for line in reversed(log_file.read_text("utf-8").splitlines())
                  if line.strip() and (out / line.strip()).is_dir())
    return prep, job_id


def run_job(job_id: str, out: Path, log_file: Path, *args: str) -> Measured:
    """./run-pipeline.sh -j JOB --out OUT ARGS..., measured; exits on failure."""
    run = run_measured([str(ROOT / "run-pipeline.sh"), "-j", job_id, "--out", str(out), *args],
                       log_file)
    check(run, "run-pipeline.sh " + " ".join(args), log_file)
    return run


def lock_stage(job_dir: Path, key: str) -> dict:
    """The stage's lock.json entry (duration_s: the stage's process() time, without the
    interpreter start, imports and model load; info: what the stage reported)."""
    return json.loads((job_dir / "lock.json").read_text("utf-8"))["stages"][key]


def stage_walls(job_dir: Path) -> dict[str, float]:
    """Each stage process's wall time, from pipeline.log "<key>: done in X s" (0.1 s
    resolution; the last run of each stage)."""
    text = (job_dir / "logs" / "pipeline.log").read_text("utf-8")
    return {k: float(v) for k, v in re.findall(r"\s(\S+): done in ([\d.]+)s", text)}


def asr_log_times(job_dir: Path) -> dict[str, float | None]:
    """From the last run in asr.log: model load ("loaded ... in X s", 0.1 s resolution) and
    transcription ("N s audio in X s (RTF")."""
    text = (job_dir / "logs" / "asr.log").read_text("utf-8")
    loads = re.findall(r"loaded \S+ on \S+ in ([\d.]+)s", text)
    transcribes = re.findall(r"[\d.]+ s audio in ([\d.]+) s \(RTF", text)
    return {"load_s": float(loads[-1]) if loads else None,
            "transcribe_s": float(transcribes[-1]) if transcribes else None}


def segments_text(job_dir: Path) -> str:
    """The asr stage's transcript (segments.json, after the hallucination filter)."""
    data = json.loads((stage_dir(job_dir, "asr") / "segments.json").read_text("utf-8"))
    return " ".join(s["text"] for s in data["segments"])


def wer_between(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (tests.helpers.wer on
    shared.words.normalize_words: lower case, punctuation removed, Indic words whole); 0.0
    when both are empty."""
    from tests.helpers import normalize_words, wer

    if not normalize_words(reference):
        return 0.0 if not normalize_words(hypothesis) else 1.0
    return wer(reference, hypothesis)


def bench_parser(doc: str, *, rounds: int, rounds_help: str,
                 minutes: bool = True) -> argparse.ArgumentParser:
    """The options every benchmark takes: [--minutes] --rounds --json --keep."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if minutes:
        parser.add_argument("--minutes", type=float, default=3.0, help="minutes of speech")
    parser.add_argument("--rounds", type=int, default=rounds, help=rounds_help)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    return parser


@contextlib.contextmanager
def work_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A temp folder for one benchmark run, removed afterwards unless ``keep``; the whisperx
    venv must exist."""
    if not WHISPERX_PYTHON.is_file():
        raise SystemExit(f"{WHISPERX_PYTHON} is missing: build it with ./bootstrap.sh")
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    log(f"working in {folder}")
    try:
        yield folder
    finally:
        if keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def write_figures(fig: dict, path: Path | None) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fig, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {path}")
