"""The vad stage with both backends (silero, pyannote), through prepare-job.sh --vad and
run-pipeline.sh --to vad, on audio whose speech regions are known: espeak-ng sentences
(English and Hindi) separated by 2-8 s of silence, jfk.flac between 5 s of silence, pure
silence, and a pure 440 Hz tone. Also: blocks give the regions one pass gives, a 25-minute
file streams in flat memory, and nothing reaches the network."""

from __future__ import annotations

import array
import json
import math
import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import (
    NO_NETWORK,
    ROOT,
    espeak,
    have,
    network_namespace_works,
    run_pipeline,
    run_script,
    stages_ran,
)

pytestmark = pytest.mark.integration

BACKENDS = ("silero", "pyannote")
EDGE_TOLERANCE_S = 0.3
RATE = 16000

# (voice, sentence, silence after it); the track starts with LEAD_S of silence
LEAD_S = 3.0
SENTENCES = [
    ("en", "Good evening. The train to Mumbai leaves at nine o'clock tonight.", 2.0),
    ("en", "I told you already, I am not going anywhere without my brother.", 8.0),
    ("hi", "मैं कल सुबह दिल्ली जा रहा हूँ, तुम भी चलो।", 5.0),
    ("en", "Wait!", 3.0),
]
JFK_PAD_S = 5.0


@dataclass
class Track:
    path: Path
    truth: list[tuple[float, float]]  # speech intervals, seconds
    duration: float


def sox(*args: str) -> None:
    subprocess.run(["sox", "-R", *args], check=True)  # repeatable dither: the same audio each run


def read_pcm16(path: Path) -> array.array:
    with wave.open(str(path), "rb") as handle:
        assert handle.getsampwidth() == 2 and handle.getnchannels() == 1
        return array.array("h", handle.readframes(handle.getnframes()))


def energy_bounds(path: Path, relative: float = 0.05, hop: int = 160) -> tuple[float, float]:
    """First and last 10 ms frame whose RMS exceeds ``relative`` x the loudest frame's: the
    speech inside a piece, without the silence espeak puts around it."""
    samples = read_pcm16(path)
    rms = [math.sqrt(sum(x * x for x in samples[i:i + hop]) / hop)
           for i in range(0, len(samples) - hop + 1, hop)]
    floor = relative * max(rms)
    active = [i for i, value in enumerate(rms) if value > floor]
    return active[0] * hop / RATE, (active[-1] + 1) * hop / RATE


def duration_of(path: Path) -> float:
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def silence(path: Path, seconds: float) -> Path:
    sox("-n", "-r", str(RATE), "-c", "1", "-b", "16", str(path), "trim", "0", str(seconds))
    return path


def build_dialogue(folder: Path) -> Track:
    parts = [silence(folder / "lead.wav", LEAD_S)]
    truth, clock = [], LEAD_S
    for n, (voice, text, gap) in enumerate(SENTENCES):
        raw = espeak(text, folder / f"raw{n}.wav", voice=voice)
        piece = folder / f"piece{n}.wav"
        sox(str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(piece))
        start, end = energy_bounds(piece)
        truth.append((clock + start, clock + end))
        clock += duration_of(piece) + gap
        parts += [piece, silence(folder / f"gap{n}.wav", gap)]
    out = folder / "dialogue.wav"
    sox(*map(str, parts), str(out))
    assert duration_of(out) == pytest.approx(clock, abs=0.01)
    return Track(out, truth, clock)


def build_jfk(folder: Path, speech: Path) -> Track:
    plain = folder / "jfk16.wav"
    sox(str(speech / "jfk.flac"), "-r", str(RATE), "-c", "1", "-b", "16", str(plain))
    # jfk.flac has a noise floor at ~3% of its peak: a higher threshold finds the words
    start, end = energy_bounds(plain, relative=0.1)
    out = folder / "jfk padded.wav"
    sox(str(plain), str(out), "pad", str(JFK_PAD_S), str(JFK_PAD_S))
    return Track(out, [(JFK_PAD_S + start, JFK_PAD_S + end)], duration_of(out))


def build_no_speech(folder: Path) -> dict[str, Track]:
    quiet = silence(folder / "silence.wav", 20)
    tone = folder / "tone.wav"
    sox("-n", "-r", str(RATE), "-c", "1", "-b", "16", str(tone), "synth", "20", "sine", "440",
        "vol", "0.5")
    return {"silence": Track(quiet, [], 20.0), "tone": Track(tone, [], 20.0)}


@pytest.fixture(scope="module")
def tracks(tmp_path_factory, speech) -> dict[str, Track]:
    if not (have("espeak-ng") and have("sox")):
        pytest.skip("needs espeak-ng and sox")
    folder = tmp_path_factory.mktemp("vad-audio")
    return {"dialogue": build_dialogue(folder), "jfk": build_jfk(folder, speech),
            **build_no_speech(folder)}


def prepare_jobs(media: list[Path], backend: str, out: Path, *extra: str) -> list[str]:
    args = [a for m in media for a in ("--media", str(m))]
    proc = run_script("prepare-job.sh", *args, "-s", "en", "--vad", backend, *extra,
                      "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split()


def stage_dir(job_dir: Path, key: str = "vad") -> Path:
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    return job_dir / next(i["dir"] for i in job["stages"] if i["key"] == key)


def vad_output(job_dir: Path) -> dict:
    return json.loads((stage_dir(job_dir) / "speech_segments.json").read_text("utf-8"))


def media_of(job_dir: Path) -> Path:
    return Path(json.loads((job_dir / "job.json").read_text("utf-8"))["media"]["path"])


@dataclass
class BackendRun:
    backend: str
    jobs: dict[str, Path]  # track name -> job folder
    proc: subprocess.CompletedProcess


@pytest.fixture(scope="module", params=BACKENDS)
def backend_run(request, tracks, test_cache, tmp_path_factory) -> BackendRun:
    """One batch per backend: every track prepared with --vad <backend>, run up to vad."""
    out = tmp_path_factory.mktemp(f"jobs-{request.param}")
    ids = prepare_jobs([t.path for t in tracks.values()], request.param, out)
    proc = run_pipeline(*ids[:1], *[a for i in ids[1:] for a in ("-j", i)], "--to", "vad",
                        out=out)
    by_media = {media_of(out / i): out / i for i in ids}
    return BackendRun(request.param, {name: by_media[t.path.resolve()]
                                      for name, t in tracks.items()}, proc)


def edge_errors(segments: list[dict], truth: list[tuple[float, float]]) -> list[float]:
    """|detected - true| for the start and end of every true interval; fails when an
    interval has no speech or speech is reported inside a silence."""
    tol = EDGE_TOLERANCE_S
    errors = []
    for start, end in truth:
        inside = [s for s in segments if s["end"] > start - tol and s["start"] < end + tol]
        assert inside, f"no speech found in {start:.2f}-{end:.2f}: {segments}"
        errors += [abs(inside[0]["start"] - start), abs(inside[-1]["end"] - end)]
    for segment in segments:
        assert any(segment["start"] >= a - tol and segment["end"] <= b + tol
                   for a, b in truth), f"speech reported in a silence: {segment} (truth {truth})"
    return errors


def assert_well_formed(result: dict, backend: str, duration: float) -> None:
    assert set(result) == {"backend", "params", "duration", "segments", "quality"}
    assert result["backend"] == backend == result["params"]["backend"]
    assert result["duration"] == pytest.approx(duration, abs=0.05)
    previous_end = 0.0
    for segment in result["segments"]:
        assert set(segment) == {"start", "end", "confidence"}
        assert previous_end <= segment["start"] < segment["end"] <= result["duration"]
        assert 0.0 <= segment["confidence"] <= 1.0
        previous_end = segment["end"]
    assert set(result["quality"]) == {"speech_s", "speech_ratio", "regions", "longest_silence_s",
                                      "longest_silence_start", "mean_confidence", "warnings"}


def test_the_batch_runs_demux_then_one_vad_process_for_every_job(backend_run):
    ran = re.findall(r"^\[(\S+)\]\s+(\S+): done in", backend_run.proc.stdout, flags=re.M)
    for job_dir in backend_run.jobs.values():
        assert [key for job, key in ran if job == job_dir.name] == ["demux", "metadata",
                                                                    "glossary", "vad"]
    assert backend_run.proc.stdout.count("vad: running (4 job(s))") == 1
    log = (backend_run.jobs["dialogue"] / "logs" / "vad.log").read_text("utf-8")
    assert "speech region(s)" in log and "longest silence" in log
    venv = {"silero": "whisperx", "pyannote": "pyannote"}[backend_run.backend]
    assert f"loaded {backend_run.backend} on cpu" in log and f"(venv {venv})" in log
    for job_dir in backend_run.jobs.values():
        lock = json.loads((job_dir / "lock.json").read_text("utf-8"))
        assert lock["stages"]["vad"]["env"] == venv
        planned = json.loads((job_dir / "job.json").read_text("utf-8"))["environments"]
        assert planned["vad"] == venv and planned["demux"] == "common"


def test_every_sentence_is_found_with_its_edges(backend_run, tracks):
    track = tracks["dialogue"]
    result = vad_output(backend_run.jobs["dialogue"])
    assert_well_formed(result, backend_run.backend, track.duration)
    errors = edge_errors(result["segments"], track.truth)
    assert max(errors) <= EDGE_TOLERANCE_S, (errors, result["segments"], track.truth)
    quality = result["quality"]
    assert quality["warnings"] == []
    assert quality["regions"] >= len(SENTENCES)
    speech = sum(end - start for start, end in track.truth)
    assert quality["speech_s"] == pytest.approx(speech, abs=0.6 * len(SENTENCES))
    assert quality["longest_silence_s"] == pytest.approx(8.0, abs=2 * EDGE_TOLERANCE_S)


def test_jfk_between_silences(backend_run, tracks):
    track = tracks["jfk"]
    result = vad_output(backend_run.jobs["jfk"])
    assert_well_formed(result, backend_run.backend, track.duration)
    errors = edge_errors(result["segments"], track.truth)
    assert max(errors) <= EDGE_TOLERANCE_S, (errors, result["segments"], track.truth)
    assert result["quality"]["warnings"] == []
    assert result["quality"]["mean_confidence"] > 0.8


@pytest.mark.parametrize("name", ["silence", "tone"])
def test_no_speech_gives_a_warning_not_an_error(backend_run, tracks, name):
    job_dir = backend_run.jobs[name]
    result = vad_output(job_dir)
    assert_well_formed(result, backend_run.backend, tracks[name].duration)
    assert result["quality"]["speech_s"] <= 0.3
    assert len(result["quality"]["warnings"]) == 1
    assert "wrong audio stream? music only?" in result["quality"]["warnings"][0]
    log = (job_dir / "logs" / "vad.log").read_text("utf-8")
    assert "WARNING" in log and "almost no speech detected" in log
    lock = json.loads((job_dir / "lock.json").read_text("utf-8"))
    assert lock["stages"]["vad"]["info"]["warnings"] == result["quality"]["warnings"]


def test_unchanged_is_skipped_and_small_blocks_find_what_one_block_finds(backend_run):
    """Blocks of 10 s with 2 s of context: the sentences straddle block edges, and the
    regions joined across them match the single-block result."""
    job_dir = backend_run.jobs["dialogue"]
    before = vad_output(job_dir)["segments"]
    again = run_pipeline(job_dir.name, "--to", "vad", out=job_dir.parent)
    assert stages_ran(again) == []
    proc = run_pipeline(job_dir.name, "--only", "vad", "--set", "vad.block_duration=10",
                        "--set", "vad.block_overlap=2", out=job_dir.parent)
    assert stages_ran(proc) == ["vad"]
    assert "params.block_duration 600.0->10.0" in proc.stdout
    after = vad_output(job_dir)["segments"]
    assert len(after) == len(before), (before, after)
    for a, b in zip(before, after, strict=True):
        assert a["start"] == pytest.approx(b["start"], abs=0.1)
        assert a["end"] == pytest.approx(b["end"], abs=0.1)


def test_offset_above_onset_is_refused_at_prepare(tracks, test_cache, tmp_path):
    proc = run_script("prepare-job.sh", "--media", str(tracks["tone"].path), "-s", "en",
                      "--vad", "silero", "--set", "vad.offset=0.8", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "offset (0.8) must not exceed onset (0.5)" in proc.stderr


@pytest.mark.skipif(not network_namespace_works(),
                    reason="needs `unshare --net` (root or user namespaces)")
def test_both_backends_run_without_a_network(tracks, test_cache, tmp_path):
    """run-pipeline.sh in a network namespace with no interface but a down loopback: any
    connect fails, so the stage must find everything it needs on disk."""
    ids = []
    for backend in BACKENDS:
        ids += prepare_jobs([tracks["jfk"].path], backend, tmp_path)
    proc = subprocess.run(["unshare", "--net", str(ROOT / "run-pipeline.sh"), "-j", ids[0],
                           "-j", ids[1], "--to", "vad", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for job_id, backend in zip(ids, BACKENDS, strict=True):
        segments = vad_output(tmp_path / job_id)["segments"]
        assert max(edge_errors(segments, tracks["jfk"].truth)) <= EDGE_TOLERANCE_S
        lock = json.loads((tmp_path / job_id / "lock.json").read_text("utf-8"))
        assert lock["stages"]["vad"]["env"] == {"silero": "whisperx",
                                               "pyannote": "pyannote"}[backend]


CHILD = NO_NETWORK + r"""
import json, resource, socket, sys
from pathlib import Path


from stages.vad import VadParams
from stages.vad.run import detect, load_scorer


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


report = {}
for job in json.loads(sys.argv[1]):
    params = VadParams(backend=job["backend"], device="cpu", **job["params"])
    scorer = load_scorer(params)
    loaded = peak_rss_mb()
    found, duration = detect(scorer, Path(job["audio"]), params)
    report[job["name"]] = {"segments": [[r.start, r.end] for r in found], "duration": duration,
                           "rss_loaded_mb": loaded, "rss_after_mb": peak_rss_mb()}
report["attempts"] = attempts
sys.stdout.write("@@report " + json.dumps(report) + "\n")
"""


def run_child(test_cache, jobs: list[dict], env: str = "whisperx") -> dict:
    """Run stages.vad.run.detect in ``env`` (the backend's venv), started by the
    EnvironmentManager as a stage is, offline, with every socket connect and name lookup
    refused and recorded."""
    from shared.environment_manager import EnvironmentManager

    lines: list[str] = []
    result = EnvironmentManager(test_cache).run_in_environment(
        env, ["-c", CHILD, json.dumps(jobs)], on_line=lines.append, offline=True, timeout=900)
    assert result.ok, "\n".join(lines[-30:])
    report = next(line for line in lines if line.startswith("@@report "))
    return json.loads(report.removeprefix("@@report "))


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_socket_is_opened_by_either_backend(tracks, test_cache, backend):
    from stages.vad import BACKEND_ENVIRONMENTS

    report = run_child(test_cache, [{"name": backend, "backend": backend,
                                     "audio": str(tracks["jfk"].path), "params": {}}],
                       env=BACKEND_ENVIRONMENTS[backend])
    assert report["attempts"] == []
    assert report[backend]["segments"]


def test_a_long_file_streams_in_flat_memory(tracks, test_cache, tmp_path):
    """25 minutes (jfk every 25 s, so block edges fall inside speech): 60 s blocks give the
    regions a single 30-minute block gives, and the 60 s run's memory does not grow with
    the file (the whole file as float32 would be 96 MB)."""
    period = tmp_path / "period.wav"
    sox(str(tracks["jfk"].path), str(period), "pad", "0", str(25 - tracks["jfk"].duration))
    long_audio = tmp_path / "long.wav"
    sox(str(period), str(long_audio), "repeat", "59")
    assert duration_of(long_audio) == pytest.approx(1500, abs=0.1)
    report = run_child(test_cache, [
        {"name": "blocks", "backend": "silero", "audio": str(long_audio),
         "params": {"block_duration": 60, "block_overlap": 5}},
        {"name": "whole", "backend": "silero", "audio": str(long_audio),
         "params": {"block_duration": 1800}},
    ])
    blocks, whole = report["blocks"]["segments"], report["whole"]["segments"]
    assert len(blocks) == len(whole) >= 60
    for a, b in zip(blocks, whole, strict=True):
        # silero's LSTM state differs after a block start; borderline frames (jfk's noisy
        # tail) may flip: measured up to 0.144 s, whatever the overlap (2-10 s)
        assert a == pytest.approx(b, abs=0.2)
    jfk_start, jfk_end = tracks["jfk"].truth[0]
    for k in range(60):
        inside = [s for s in blocks if k * 25 <= s[0] < (k + 1) * 25]
        assert inside[0][0] == pytest.approx(k * 25 + jfk_start, abs=EDGE_TOLERANCE_S)
        assert inside[-1][1] == pytest.approx(k * 25 + jfk_end, abs=EDGE_TOLERANCE_S)
    grew = {name: report[name]["rss_after_mb"] - report[name]["rss_loaded_mb"]
            for name in ("blocks", "whole")}
    assert grew["blocks"] < 40, f"peak memory grew by {grew['blocks']:.0f} MB in 60 s blocks"
    assert grew["whole"] > 60, f"the measurement is blind: one block grew {grew['whole']:.0f} MB"


READER = r"""
import json, sys
from pathlib import Path
from stages.vad import wav
reference = None
report = {}
for path in json.loads(sys.argv[1]):
    info = wav.probe(Path(path))
    samples = wav.read(info, 16000, 32000)
    if reference is None:
        reference = samples
    report[path] = {"fmt": info.fmt, "bits": info.bits, "channels": info.channels,
                    "frames": info.frames, "dtype": str(samples.dtype),
                    "max_diff": float(abs(samples - reference).max())}
sys.stdout.write("@@report " + json.dumps(report) + "\n")
"""


def test_the_wav_reader_reads_pcm_and_float_encodings_alike(tracks, test_cache, tmp_path):
    """What another stage or a user may hand over: 16/24/32-bit PCM, 32/64-bit float,
    stereo (averaged to mono)."""
    from shared.environment_manager import EnvironmentManager

    source = str(tracks["jfk"].path)
    variants = {"pcm16": [], "pcm24 stereo": ["-b", "24", "-c", "2"], "pcm32": ["-b", "32"],
                "float32": ["-e", "floating-point", "-b", "32"],
                "float64": ["-e", "floating-point", "-b", "64"]}
    paths = []
    for name, args in variants.items():
        path = tmp_path / f"{name}.wav"
        sox(source, *args, str(path))
        paths.append(str(path))
    lines: list[str] = []
    result = EnvironmentManager(test_cache).run_in_environment(
        "whisperx", ["-c", READER, json.dumps(paths)], on_line=lines.append, timeout=300)
    assert result.ok, "\n".join(lines[-30:])
    report = json.loads(next(x for x in lines if x.startswith("@@report ")).split(" ", 1)[1])
    frames = {r["frames"] for r in report.values()}
    assert frames == {round(tracks["jfk"].duration * RATE)}
    for path, entry in report.items():
        assert entry["dtype"] == "float32", path
        assert entry["max_diff"] < 1e-3, (path, entry)
    assert report[paths[1]]["channels"] == 2 and report[paths[3]]["fmt"] == 3
