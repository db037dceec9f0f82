"""Source separation through the user-facing scripts: ./prepare-job.sh --separate, then
./run-pipeline.sh, with a tiny random HTDemucs that the real loading code finds in a temporary
cache (tests/tiny_demucs.py), next to the embedded Whisper model."""

from __future__ import annotations

import json
import shutil
import wave
from array import array
from pathlib import Path

import pytest

from shared import hf_cache
from tests import tiny_demucs
from tests.helpers import (
    ffmpeg,
    lock,
    make_model_cache,
    make_video,
    prepare,
    run_pipeline,
    run_script,
    stages_ran,
    stages_skipped,
)

pytestmark = pytest.mark.integration

SEP_DIR = "stages/04_source_separation"
# one torch thread: the tiny model gains nothing from more, and a busy shared machine makes
# two threads on two cores many times slower
ONE_THREAD = ("--set", "source_separation.cpu_threads=1")


@pytest.fixture(scope="module")
def sep_cache(tmp_path_factory):
    """A model cache with the embedded Whisper model and the tiny demucs (HF layout)."""
    cache, path = make_model_cache(tmp_path_factory.mktemp("sep-cache"))
    tiny_demucs.install(cache)
    return cache, {"SUBPIPE_HARDWARE_CACHE": str(path)}


@pytest.fixture
def bare_cache(tmp_path):
    """A cache of its own (no Whisper model: these runs stop after source_separation)."""
    cache, path = make_model_cache(tmp_path / "bare", embedded=False)
    return cache, {"SUBPIPE_HARDWARE_CACHE": str(path)}


@pytest.fixture(scope="module")
def music_and_speech(speech, tmp_path_factory) -> Path:
    """11 s of stereo 44.1 kHz: JFK on both channels (louder left) over a 220 Hz tone."""
    out = tmp_path_factory.mktemp("media") / "speech over tone.wav"
    ffmpeg("-i", str(speech / "jfk.flac"), "-f", "lavfi", "-i", "sine=frequency=220:duration=11",
           "-filter_complex", "[0:a]aresample=44100,pan=stereo|c0=c0|c1=0.5*c0[s];"
           "[1:a]aresample=44100,pan=stereo|c0=0.3*c0|c1=0.6*c0[m];"
           "[s][m]amix=inputs=2:duration=longest[a]",
           "-map", "[a]", "-ar", "44100", "-ac", "2", str(out))
    return out


def read_wav(path: Path) -> tuple[int, int, array]:
    """(sample rate, channels, interleaved PCM16 samples)."""
    with wave.open(str(path), "rb") as handle:
        assert handle.getsampwidth() == 2, f"{path} is not 16-bit PCM"
        samples = array("h", handle.readframes(handle.getnframes()))
        return handle.getframerate(), handle.getnchannels(), samples


def wav_shape(path: Path) -> tuple[int, int, int]:
    """(sample rate, channels, frames)."""
    with wave.open(str(path), "rb") as handle:
        return handle.getframerate(), handle.getnchannels(), handle.getnframes()


def assert_separation_outputs(job_dir: Path, seconds: float, within: float = 0.005) -> dict:
    """Every output there with the right format, on the input's timeline; returns
    separation.json."""
    rate44, ch44, frames44 = wav_shape(job_dir / "stages/01_demux/audio_44k.wav")
    assert (rate44, ch44) == (44100, 2)
    assert abs(frames44 / 44100 - seconds) <= within, (frames44 / 44100, seconds)
    _, _, demux16 = wav_shape(job_dir / "stages/01_demux/audio_16k.wav")
    assert abs(frames44 / 44100 - demux16 / 16000) <= 0.001  # one timeline for both WAVs
    for stem in ("vocals.wav", "accompaniment.wav"):
        assert wav_shape(job_dir / SEP_DIR / stem) == (44100, 2, frames44), stem
    rate16, ch16, frames16 = wav_shape(job_dir / SEP_DIR / "vocals_16k.wav")
    assert (rate16, ch16) == (16000, 1)
    assert abs(frames16 - demux16) <= 16, (frames16, demux16)  # within 1 ms of demux's 16 kHz
    info = json.loads((job_dir / SEP_DIR / "separation.json").read_text("utf-8"))
    assert info["samplerate"] == 44100 and info["channels"] == 2
    assert info["duration"] == pytest.approx(frames44 / 44100, abs=0.001)
    return info


def test_separate_transcribe_rerun_skips_and_shifts_reruns(sep_cache, music_and_speech,
                                                           jobs_root, tmp_path):
    _, env = sep_cache
    clip = tmp_path / "clip.wav"
    ffmpeg("-i", str(music_and_speech), "-t", "10", str(clip))
    job_id = prepare("--media", str(clip), "-s", "en", "--separate", out=jobs_root, env=env)
    job_dir = jobs_root / job_id
    assert json.loads((job_dir / "job.json").read_text())["features"] == ["separation"]

    first = run_pipeline(job_id, out=jobs_root, env=env)
    ran = stages_ran(first)  # then whatever else the workflow runs after asr
    assert ran[:5] == ["demux", "metadata", "glossary", "source_separation", "asr"]
    assert ran[-1] == "subtitles:source"
    info = assert_separation_outputs(job_dir, 10.0)
    assert info["model"] == "htdemucs" and info["repo_id"] == "adefossez/HTDemucs"
    assert info["revision"] == hf_cache.read_ref(sep_cache[0].cache.hf_hub_cache,
                                                 "adefossez/HTDemucs")
    assert info["sources"] == ["drums", "bass", "other", "vocals"]
    assert info["chunks"] == 1 and info["device"] == "cpu" and info["rtf"] > 0
    media_info = json.loads((job_dir / "stages/01_demux/media_info.json").read_text())
    assert media_info["stereo_44k"]["sample_rate"] == 44100
    recorded = lock(job_dir)["stages"]
    assert set(recorded) == set(ran)
    assert "stages/01_demux/audio_44k.wav" in [o["path"] for o in recorded["demux"]["outputs"]]
    assert recorded["demux"]["components"]["params"]["stereo_44k"] is True
    assert recorded["source_separation"]["components"]["models"] == {
        "htdemucs": f"adefossez/HTDemucs@{info['revision']}"}
    # asr transcribed the separated vocals, not the mix
    vocals_16k = next(o for o in recorded["source_separation"]["outputs"]
                      if o["path"].endswith("/vocals_16k.wav"))
    assert recorded["asr"]["components"]["inputs"]["audio"] == vocals_16k["sha256"]
    # song detection listened to the separated stems
    assert {"vocals", "accompaniment"} <= set(recorded["songs"]["components"]["inputs"])
    assert (job_dir / "subtitles").is_dir()

    second = run_pipeline(job_id, out=jobs_root, env=env)
    assert stages_ran(second) == []
    assert stages_skipped(second) == ran

    shifted = run_pipeline(job_id, "--set", "source_separation.shifts=1", "--to",
                           "source_separation", out=jobs_root, env=env)
    assert stages_ran(shifted) == ["source_separation"]
    assert "demux" in stages_skipped(shifted)
    assert "params.shifts 0->1" in shifted.stdout
    assert_separation_outputs(job_dir, 10.0)


def test_chunked_output_matches_an_unchunked_run_except_inside_the_crossfades(
        sep_cache, music_and_speech, jobs_root):
    _, env = sep_cache
    chunked = prepare("--media", str(music_and_speech), "-s", "en", "--separate", *ONE_THREAD,
                      "--set", "source_separation.chunk_seconds=4",
                      "--set", "source_separation.overlap_seconds=1", out=jobs_root, env=env)
    whole = prepare("--media", str(music_and_speech), "-s", "en", "--separate", *ONE_THREAD,
                    out=jobs_root, env=env)
    run_pipeline(chunked, "-j", whole, "--to", "source_separation", out=jobs_root, env=env)
    info = assert_separation_outputs(jobs_root / chunked, 11.0)
    assert assert_separation_outputs(jobs_root / whole, 11.0)["chunks"] == 1
    # 4 s rounds to the tiny model's 3 s step (4 s segments, 25 % overlap): windows start
    # where the unchunked run's segments start
    assert (info["chunk_seconds"], info["overlap_seconds"]) == (3.0, 1.0)
    assert info["chunks"] == 4 and info["crossfade_starts_s"] == [3.0, 6.0, 9.0]

    lsb = 2  # PCM16 rounding of two float outputs
    for stem in ("vocals.wav", "accompaniment.wav"):
        _, channels, ours = read_wav(jobs_root / chunked / SEP_DIR / stem)
        _, _, theirs = read_wav(jobs_root / whole / SEP_DIR / stem)
        assert len(ours) == len(theirs) == 11 * 44100 * channels
        error = [abs(a - b) for a, b in zip(ours, theirs, strict=True)]

        def worst(start_s: float, end_s: float, error=error, channels=channels) -> int:
            return max(error[int(start_s * 44100) * channels:int(end_s * 44100) * channels])

        # identical where one window alone decides the output (the last window, shorter than
        # a segment, is padded differently from the unchunked run and is left out)
        for start, end in ((0, 3), (4, 6), (7, 9)):
            assert worst(start, end) <= lsb, (stem, start, end)
        # no step at a join: the crossfade starts and ends where both runs agree
        for join in (3.0, 6.0):
            assert worst(join, join + 0.005) <= lsb, (stem, join)
            assert worst(join + 0.995, join + 1.0) <= lsb, (stem, join)
        assert worst(9.0, 9.005) <= lsb
        # inside a crossfade the two windows of a random model disagree, but boundedly
        peak = max(abs(x) for x in theirs)
        assert max(error) <= 0.4 * peak, (stem, max(error), peak)


def _media_variants(source: Path, folder: Path) -> dict[str, tuple[Path, float]]:
    """name -> (file, seconds of audio demux should give; AAC rounds up to whole 1024-sample
    frames, so that one is checked within 25 ms)."""
    four = ["-t", "4"]
    made = {
        "mono 44.1 kHz": (folder / "mono.wav", ["-ac", "1", "-ar", "44100"]),
        "stereo 8 kHz": (folder / "8k.wav", ["-ac", "2", "-ar", "8000"]),
        "stereo 96 kHz": (folder / "96k.flac", ["-ac", "2", "-ar", "96000"]),
        "5 channels": (folder / "five.wav", ["-ac", "5", "-ar", "48000"]),
        "5.1 AAC": (folder / "surround.m4a", ["-ac", "6", "-c:a", "aac", "-b:a", "192k"]),
    }
    variants = {}
    for name, (path, args) in made.items():
        ffmpeg("-i", str(source), *four, *args, str(path))
        variants[name] = (path, 4.0)
    # a video whose audio starts 1 s late, clipped: both WAVs padded and cut alike
    video = make_video(source, folder / "late.mkv", audio_offset=1.0, seconds=6)
    variants["late audio, clipped"] = (video, 3.5)
    return variants


def test_mono_low_high_rate_and_multichannel_inputs_in_one_batch(sep_cache, music_and_speech,
                                                                 jobs_root, tmp_path):
    _, env = sep_cache
    variants = _media_variants(music_and_speech, tmp_path)
    jobs = {}
    for name, (media, _) in variants.items():
        clip = ("--start-time", "0.5", "--end-time", "4") if "clipped" in name else ()
        jobs[name] = prepare("--media", str(media), "-s", "en", "--separate", *clip,
                             *ONE_THREAD, out=jobs_root, env=env)
    ids = list(jobs.values())
    batch = []
    for job_id in ids[1:]:
        batch += ["-j", job_id]
    run_pipeline(ids[0], *batch, "--to", "source_separation", out=jobs_root, env=env)
    for name, job_id in jobs.items():
        job_dir = jobs_root / job_id
        assert set(lock(job_dir)["stages"]) == {"demux", "metadata", "glossary",
                                                "source_separation"}, name
        assert_separation_outputs(job_dir, variants[name][1],
                                  within=0.025 if "AAC" in name else 0.005)
        source_channels = json.loads((job_dir / "stages/01_demux/media_info.json").read_text()
                                     )["audio_stream"]["channels"]
        if name == "mono 44.1 kHz":  # upmixed: both channels carry the same signal
            _, _, samples = read_wav(job_dir / "stages/01_demux/audio_44k.wav")
            assert source_channels == 1 and samples[0::2] == samples[1::2]
            assert max(samples) > 1000
        if name in ("5 channels", "5.1 AAC"):
            assert source_channels == (5 if name == "5 channels" else 6)
    # one stage process for the batch: the model was loaded once
    log = (jobs_root / ids[0] / "logs" / "source_separation.log").read_text()
    assert log.count("loaded htdemucs") == 1
    assert all(f"source_separation: job {job_id}" in log for job_id in ids)


def test_weights_change_reruns_legacy_checkpoint_loads_and_missing_weights_fail(
        bare_cache, music_and_speech, jobs_root, tmp_path):
    cache, env = bare_cache
    clip = tmp_path / "clip.wav"
    ffmpeg("-i", str(music_and_speech), "-t", "3", str(clip))
    job_id = prepare("--media", str(clip), "-s", "en", "--separate", *ONE_THREAD,
                     out=jobs_root, env=env)
    job_dir = jobs_root / job_id
    to_sep = ("--to", "source_separation")

    # nothing cached: the check before the first stage stops the run, naming the fix
    proc = run_pipeline(job_id, *to_sep, out=jobs_root, env=env, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "./cache-models.sh --model htdemucs" in proc.stdout + proc.stderr
    assert "demucs model htdemucs is not in the cache" in proc.stdout + proc.stderr
    assert not (job_dir / "lock.json").exists()  # nothing ran

    tiny_demucs.install(cache, seed=0)
    run_pipeline(job_id, *to_sep, out=jobs_root, env=env)
    first = json.loads((job_dir / SEP_DIR / "separation.json").read_text())
    vocals_before = (job_dir / SEP_DIR / "vocals.wav").read_bytes()

    tiny_demucs.install(cache, seed=1)  # other weights: a new snapshot in the HF cache
    proc = run_pipeline(job_id, *to_sep, out=jobs_root, env=env)
    assert stages_ran(proc) == ["source_separation"]
    assert "model htdemucs" in proc.stdout
    second = json.loads((job_dir / SEP_DIR / "separation.json").read_text())
    assert second["revision"] != first["revision"]
    assert (job_dir / SEP_DIR / "vocals.wav").read_bytes() != vocals_before

    # only the legacy torch hub checkpoint: get_model's fallback loads it
    shutil.rmtree(hf_cache.repo_folder(cache.cache.hf_hub_cache, tiny_demucs.REPO_ID))
    tiny_demucs.install(cache, layout="torch", seed=0)
    proc = run_pipeline(job_id, *to_sep, out=jobs_root, env=env)
    assert stages_ran(proc) == ["source_separation"]
    legacy = json.loads((job_dir / SEP_DIR / "separation.json").read_text())
    assert legacy["revision"].startswith("torch_hub:955717e8-8726e21a.th:")
    assert legacy["repo_id"] is None
    # the same seed-0 weights as the first run, from the other layout: the same vocals
    assert (job_dir / SEP_DIR / "vocals.wav").read_bytes() == vocals_before


def test_cache_models_verify_loads_the_tiny_model_offline(sep_cache):
    """The fixture is in the real layout: ./cache-models.sh --verify hashes its blobs and loads
    it with get_model("htdemucs") in the demucs venv."""
    proc = run_script("cache-models.sh", "--verify", "--stage", "source_separation",
                      env={**sep_cache[1], "COLUMNS": "200"}, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "htdemucs" in proc.stdout and "OK" in proc.stdout
    assert "BagOfModels" in proc.stdout


def test_legacy_checkpoint_names_match_the_installed_demucs(sep_cache, tmp_path):
    """stages/source_separation/__init__.py lists demucs' legacy file names for the runner
    (which has no demucs); they must be the ones the installed demucs would load."""
    from shared.environment_manager import EnvironmentManager
    from stages.source_separation import LEGACY_CHECKPOINTS

    script = tmp_path / "remote.py"
    script.write_text(
        "import json, sys\n"
        "from demucs.pretrained import REMOTE_ROOT, _parse_remote_files\n"
        "import yaml\n"
        "files = _parse_remote_files(REMOTE_ROOT / 'files.txt')\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    bag = yaml.safe_load((REMOTE_ROOT / f'{name}.yaml').read_text())\n"
        "    out[name] = [files[sig].rsplit('/', 1)[1] for sig in bag['models']]\n"
        "print(json.dumps(out))\n")
    result = EnvironmentManager(sep_cache[0]).run_in_environment(
        "demucs", [str(script), *LEGACY_CHECKPOINTS], log_paths=[tmp_path / "remote.log"],
        timeout=120)
    assert result.ok, result.tail
    assert json.loads(result.tail[-1]) == {k: list(v) for k, v in LEGACY_CHECKPOINTS.items()}
