"""The transcribe workflow end to end, through the user-facing scripts, with the embedded
faster-whisper base model resolved offline from a temporary cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pysubs2
import pytest

from shared import run_record
from tests.helpers import (
    JFK_TEXT,
    ROOT,
    concat_audio,
    lock,
    make_silence,
    make_video,
    prepare,
    run_pipeline,
    srt_text,
    stage_dir,
    stages_ran,
    stages_skipped,
    wer,
)

pytestmark = pytest.mark.e2e


def deliverable(job_dir: Path, suffix: str) -> Path:
    found = sorted((job_dir / "subtitles").glob(f"*{suffix}"))
    assert found, f"no *{suffix} in {job_dir / 'subtitles'}"
    return found[0]


@pytest.mark.smoke  # scripts/test.sh --quick: the cheapest run of the scripts on real speech
def test_jfk_transcribe_then_rerun_skips_everything(test_cache, speech, jobs_root):
    umask = os.umask(0o027)  # run as a user whose group (a media server) may read the outputs
    try:
        job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--title", "JFK",
                         out=jobs_root)
        first = run_pipeline(job_id, out=jobs_root)
    finally:
        os.umask(umask)
    assert stages_ran(first) == ["demux", "metadata", "glossary", "asr", "alignment", "songs",
                                 "subtitles:source"]
    job_dir = jobs_root / job_id
    srt = job_dir / "subtitles" / "JFK.en.srt"
    assert wer(JFK_TEXT, srt_text(srt)) <= 0.10
    subs = pysubs2.load(str(srt))
    assert len(subs) >= 1 and all(e.end > e.start for e in subs)
    assert all(len(line) <= 42 for e in subs for line in e.plaintext.splitlines())
    vtt = (job_dir / "subtitles" / "JFK.en.vtt").read_text("utf-8")
    assert vtt.startswith("WEBVTT")
    transcript = json.loads((job_dir / "subtitles" / "JFK.en.json").read_text("utf-8"))
    assert transcript["language"] == "en" and transcript["segments"][0]["words"]
    assert "fellow Americans" in (job_dir / "subtitles" / "JFK.en.txt").read_text("utf-8")
    assert set(lock(job_dir)["stages"]) == {"demux", "metadata", "glossary", "asr", "alignment",
                                           "songs", "subtitles:source"}
    # each stage process's peak RSS (bench/long_film.py prints it): asr holds the model
    rss = {key: entry["info"]["peak_rss_mb"] for key, entry in lock(job_dir)["stages"].items()}
    assert all(mb > 10 for mb in rss.values()), rss
    assert rss["asr"] > 150 and rss["asr"] > 2 * rss["glossary"], rss
    if os.name == "posix":  # written atomically, yet with the umask's mode, not 0600
        shared = [job_dir / "job.json", job_dir / "lock.json",
                  *(job_dir / "subtitles").iterdir()]
        assert {p.name: oct(p.stat().st_mode & 0o777) for p in shared} == {
            p.name: oct(0o640) for p in shared}

    second = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(second) == []
    assert stages_skipped(second) == ["demux", "metadata", "glossary", "asr", "alignment",
                                      "songs", "subtitles:source"]


def test_auto_language_detection_names_the_files(jfk_auto_job):
    assert (jfk_auto_job / "subtitles" / "jfk.en.srt").is_file()


def _first_cue_start(srt: Path) -> float:
    return pysubs2.load(str(srt))[0].start / 1000


def test_video_with_late_audio_keeps_cues_on_the_video_timeline(test_cache, speech, jobs_root,
                                                                tmp_path):
    plain = make_video(speech / "jfk.flac", tmp_path / "plain.mp4")
    late = make_video(speech / "jfk.flac", tmp_path / "late audio.mkv", audio_offset=2.5,
                      seconds=14)
    starts = []
    for media in (plain, late):
        job_id = prepare("--media", str(media), "-s", "en", out=jobs_root)
        run_pipeline(job_id, out=jobs_root)
        job_dir = jobs_root / job_id
        info = json.loads((job_dir / "stages" / "01_demux" / "media_info.json").read_text())
        assert info["has_video"] is True
        srt = deliverable(job_dir, ".en.srt")
        assert wer(JFK_TEXT, srt_text(srt)) <= 0.15
        starts.append(_first_cue_start(srt))
    assert starts[1] - starts[0] == pytest.approx(2.5, abs=0.25)


def test_clip_times_stay_on_the_media_timeline(test_cache, speech, jobs_root):
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--start-time", "4",
                     "--end-time", "0:11", out=jobs_root)
    run_pipeline(job_id, out=jobs_root)
    srt = deliverable(jobs_root / job_id, ".en.srt")
    subs = pysubs2.load(str(srt))
    assert subs[0].start / 1000 >= 3.9
    text = srt_text(srt).lower()
    assert "country" in text and "fellow" not in text


def test_changed_override_reruns_only_what_it_reaches(test_cache, speech, jobs_root):
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    run_pipeline(job_id, out=jobs_root)
    job_dir = jobs_root / job_id
    before = deliverable(job_dir, ".en.srt").read_text("utf-8")

    narrow = run_pipeline(job_id, "--set", "subtitles.max_chars_per_line=20", out=jobs_root)
    assert stages_ran(narrow) == ["subtitles:source"]
    assert stages_skipped(narrow) == ["demux", "metadata", "glossary", "asr", "alignment",
                                      "songs"]
    assert "params.max_chars_per_line 42->20" in narrow.stdout
    after = deliverable(job_dir, ".en.srt").read_text("utf-8")
    assert after != before
    assert all(len(line) <= 20 for line in after.splitlines() if line and "-->" not in line
               and not line.isdigit())

    beam = run_pipeline(job_id, "--set", "asr.beam_size=2", out=jobs_root)
    assert "asr" in stages_ran(beam) and "demux" in stages_skipped(beam)
    assert "params.beam_size 5->2" in beam.stdout


def _foreground_signals() -> None:
    """In the child: Ctrl-C handled as in a terminal's foreground job, even when the tests
    themselves run in the background (where a shell starts them with SIGINT ignored, and
    Python keeps an inherited ignore)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_run(job_id: str, jobs_root: Path) -> subprocess.Popen:
    return subprocess.Popen([str(ROOT / "run-pipeline.sh"), "-j", job_id, "--out", str(jobs_root)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=dict(os.environ),
                            preexec_fn=_foreground_signals)


def _wait_for_asr(job_dir: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    log = job_dir / "logs" / "asr.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and "loaded" in log.read_text("utf-8", errors="replace"):
            return
        assert proc.poll() is None, f"run ended early:\n{proc.stdout.read()}"
        time.sleep(0.1)
    raise AssertionError("asr did not start in time")


def test_killed_during_asr_resumes_with_the_same_outputs(test_cache, speech, jobs_root,
                                                         tmp_path):
    long_audio = concat_audio([speech / "jfk.flac"] * 4, tmp_path / "jfk x4.wav")
    reference_id = prepare("--media", str(long_audio), "-s", "en", "--title", "ref",
                           out=jobs_root)
    run_pipeline(reference_id, out=jobs_root)
    job_id = prepare("--media", str(long_audio), "-s", "en", "--title", "ref", out=jobs_root)
    job_dir = jobs_root / job_id
    proc = _start_run(job_id, jobs_root)
    _wait_for_asr(job_dir, proc)

    second = run_pipeline(job_id, out=jobs_root, check=False)  # while the first one runs
    assert second.returncode == 1
    assert "already being run by process" in second.stderr

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = lock(job_dir)["stages"]
    assert "demux" in recorded and "asr" not in recorded, "asr finished before the kill"
    time.sleep(1.5)  # the orphaned stage notices its runner is gone and stops

    resumed = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(resumed) == ["asr", "alignment", "songs", "subtitles:source"]
    assert stages_skipped(resumed) == ["demux", "metadata", "glossary"]
    ours = deliverable(job_dir, ".en.srt").read_text("utf-8")
    theirs = deliverable(jobs_root / reference_id, ".en.srt").read_text("utf-8")
    assert ours == theirs


def _wait_for_chunks(checkpoint: Path, proc: subprocess.Popen, share: float,
                     timeout: float = 600) -> None:
    """Until asr's checkpoint says ``share`` of its chunks are decoded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if checkpoint.is_file():
            saved = json.loads(checkpoint.read_text("utf-8"))
            if saved["done"] >= share * len(saved["chunks"]):
                return
        assert proc.poll() is None, f"run ended early:\n{proc.stdout.read()}"
        time.sleep(0.1)
    raise AssertionError(f"asr did not reach {share:.0%} of its chunks in time")


def test_killed_after_half_of_asr_resumes_after_the_last_finished_chunk(
        test_cache, speech, jobs_root, tmp_path):
    """12 sentences with pauses (2.4 min), one asr chunk each (asr.max_chunk_s=12), language
    detected (-s auto); kill -9 once asr has finished half of them: the re-run keeps the
    detected language without detecting again, decodes only the rest, and asr's segments and
    the SRT are those of a run that was never interrupted, byte for byte."""
    gap = make_silence(tmp_path / "gap.wav", 1.0)
    long_audio = concat_audio([speech / "jfk.flac", gap] * 12, tmp_path / "jfk x12.wav")
    job_args = ("--media", str(long_audio), "-s", "auto", "--title", "film",
                "--set", "asr.max_chunk_s=12")
    reference_id = prepare(*job_args, out=jobs_root)
    run_pipeline(reference_id, out=jobs_root)
    reference = stage_dir(jobs_root / reference_id, "asr")
    total = json.loads((reference / "result.json").read_text("utf-8"))["info"]["chunks"]
    assert total >= 10

    job_id = prepare(*job_args, out=jobs_root)
    job_dir = jobs_root / job_id
    checkpoint = stage_dir(job_dir, "asr") / "checkpoint.json"
    proc = _start_run(job_id, jobs_root)
    _wait_for_chunks(checkpoint, proc, 0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.5)  # the orphaned stage notices its runner is gone and stops
    saved = json.loads(checkpoint.read_text("utf-8"))
    done = saved["done"]
    assert len(saved["chunks"]) == total and total / 2 <= done < total
    assert "asr" not in lock(job_dir)["stages"]

    resumed = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(resumed) == ["asr", "alignment", "songs", "subtitles:source"]
    log = (job_dir / "logs" / "asr.log").read_text("utf-8")
    first_run, _, second_run = log.partition(f"resuming after chunk {done} of {total} (")
    assert second_run, log
    assert "INFO stages.asr: language en (p=" in first_run
    assert "INFO stages.asr: language" not in second_run  # detected once, kept
    info = json.loads((stage_dir(job_dir, "asr") / "result.json").read_text("utf-8"))["info"]
    assert (info["resumed_after_chunk"], info["chunks_decoded"]) == (done, total - done)
    assert not checkpoint.exists()  # a finished run leaves none behind

    def asr(stage: Path) -> dict:
        data = json.loads((stage / "segments.json").read_text("utf-8"))
        return {k: data[k] for k in ("segments", "language", "language_detection",
                                     "decode_passes")}

    assert asr(stage_dir(job_dir, "asr")) == asr(reference)
    ours = deliverable(job_dir, ".en.srt").read_bytes()
    assert ours == deliverable(jobs_root / reference_id, ".en.srt").read_bytes()


def test_ctrl_c_during_asr_stops_cleanly_and_the_next_run_resumes(test_cache, speech, jobs_root,
                                                                  tmp_path):
    long_audio = concat_audio([speech / "jfk.flac"] * 4, tmp_path / "jfk x4.wav")
    job_id = prepare("--media", str(long_audio), "-s", "en", out=jobs_root)
    job_dir = jobs_root / job_id
    proc = _start_run(job_id, jobs_root)
    _wait_for_asr(job_dir, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted: completed stages are kept" in output
    assert set(lock(job_dir)["stages"]) == {"demux", "metadata", "glossary"}
    assert not (job_dir / "run.pid").exists()
    stopped = run_record.load(job_dir)  # logs/last_run.json: the stage Ctrl-C stopped
    assert {k: e.state for k, e in stopped.stages.items()} == {
        "demux": "ran", "metadata": "ran", "glossary": "ran", "asr": "interrupted"}
    assert stopped.finished_at and stopped.stages["asr"].finished_at is None
    resumed = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(resumed) == ["asr", "alignment", "songs", "subtitles:source"]
    assert run_record.load(job_dir).stages["asr"].state == "ran"
    # four back-to-back copies: Whisper blurs the joins, but most of the speech is there
    text = srt_text(deliverable(job_dir, ".en.srt")).lower()
    assert text.count("what your country can do for you") >= 3
