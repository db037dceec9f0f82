"""run-pipeline's selection options, batches, status and dry runs, and bootstrap --demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import (
    lock,
    prepare,
    run_pipeline,
    run_script,
    srt_text,
    stages_ran,
    stages_skipped,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_media(speech, tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    shutil.copy(speech / "jfk.flac", folder / "jfk.flac")
    shutil.copy(speech / "hotwords.mp3", folder / "hotwords.mp3")
    (folder / "notes.txt").write_text("not media")  # ignored: not a media extension
    return folder


def test_folder_makes_one_job_per_file_and_a_batch_loads_the_model_once(test_cache, two_media,
                                                                        jobs_root):
    proc = run_script("prepare-job.sh", "--media", str(two_media), "-s", "en", "--year", "1961",
                      "--profile", "cpu", "--out", str(jobs_root))
    assert proc.returncode == 0, proc.stderr
    ids = proc.stdout.split()
    assert len(ids) == 2
    jobs = [json.loads((jobs_root / i / "job.json").read_text()) for i in ids]
    assert sorted(j["media"]["path"].rsplit("/", 1)[1] for j in jobs) == ["hotwords.mp3",
                                                                          "jfk.flac"]
    assert all(j["year"] == 1961 and j["profile"] == "cpu" for j in jobs)
    batch_id = jobs[0]["batch"]  # one prepare call, one batch: named after the folder
    assert batch_id.startswith(two_media.name) and all(j["batch"] == batch_id for j in jobs)
    assert f"next: ./run-pipeline.sh --batch {batch_id}" in proc.stderr

    batch = run_script("run-pipeline.sh", "--batch", batch_id, "--out", str(jobs_root))
    assert batch.returncode == 0, batch.stdout + batch.stderr
    for job_id in ids:
        log = (jobs_root / job_id / "logs" / "asr.log").read_text()
        assert f"--job {jobs_root / ids[0]} --job {jobs_root / ids[1]}" in log
        assert log.count("loaded Systran/faster-whisper-base") == 1  # one load for the batch
        assert set(lock(jobs_root / job_id)["stages"]) == {
            "demux", "metadata", "glossary", "asr", "alignment", "songs", "subtitles:source"}
    assert "fellow Americans" in srt_text(
        next((jobs_root / ids[[j["media"]["path"].endswith("jfk.flac") for j in jobs].index(
            True)] / "subtitles").glob("*.srt")))


def test_all_pending_runs_only_the_jobs_with_a_stage_not_done(test_cache, speech, jobs_root):
    done = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    assert json.loads((jobs_root / done / "job.json").read_text())["batch"] is None
    run_pipeline(done, out=jobs_root)
    before = lock(jobs_root / done)
    waiting = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    held = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    from shared import lockfile

    with lockfile.hold(jobs_root / held):  # a live run has it: not pending for another run
        proc = run_script("run-pipeline.sh", "--all-pending", "--out", str(jobs_root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lock(jobs_root / done) == before  # not selected: nothing of it ran again
    assert "subtitles:source" in lock(jobs_root / waiting)["stages"]
    assert not (jobs_root / held / "lock.json").exists()
    assert waiting in proc.stdout and done not in proc.stdout and held not in proc.stdout
    freed = run_script("run-pipeline.sh", "--all-pending", "--out", str(jobs_root))
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert held in freed.stdout and waiting not in freed.stdout
    again = run_script("run-pipeline.sh", "--all-pending", "--out", str(jobs_root))
    assert again.returncode == 0 and "nothing pending" in again.stderr, again.stderr
    missing = run_script("run-pipeline.sh", "--batch", "no-such-batch", "--out", str(jobs_root))
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "no job of batch 'no-such-batch'" in missing.stderr
    assert "prepare-job.sh printed" in missing.stderr


def test_from_to_only_force_and_dry_run(test_cache, speech, jobs_root):
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    plan = run_pipeline(job_id, "--dry-run", out=jobs_root)
    assert "demux                  run   not run before" in plan.stdout
    assert "asr                    run   after demux, glossary runs" in plan.stdout
    assert not (jobs_root / job_id / "lock.json").exists()  # a dry run runs nothing

    first = run_pipeline(job_id, "--to", "alignment", out=jobs_root)
    assert stages_ran(first) == ["demux", "metadata", "glossary", "asr", "alignment"]
    only = run_pipeline(job_id, "--only", "songs", "--only", "subtitles", out=jobs_root)
    assert stages_ran(only) == ["songs", "subtitles:source"]

    forced = run_pipeline(job_id, "--from", "asr", "--force", out=jobs_root)
    assert stages_ran(forced)[0] == "asr" and "demux" not in forced.stdout
    assert "forced" in forced.stdout
    one = run_pipeline(job_id, "--force", "demux", out=jobs_root)
    assert stages_ran(one) == ["demux"]  # same audio out: asr and subtitles stay skipped
    assert stages_skipped(one) == ["metadata", "glossary", "asr", "alignment", "songs",
                                   "subtitles:source"]

    status = run_script("run-pipeline.sh", "--status", "--out", str(jobs_root))
    assert status.returncode == 0
    assert job_id in status.stdout and "subtitles/jfk.en.srt" in status.stdout
    assert status.stdout.count(" done ") >= 3


def test_latest_and_debug_logging(test_cache, speech, jobs_root):
    prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    newest = prepare("--media", str(speech / "hotwords.mp3"), "-s", "en", out=jobs_root)
    proc = run_script("run-pipeline.sh", "--latest", "--dry-run", "--out", str(jobs_root),
                      "--log-level", "DEBUG")
    assert proc.returncode == 0
    assert f"plan {newest}" in proc.stdout


def test_bootstrap_demo_transcribes_a_sample_and_prints_its_subtitles(tmp_path):
    env = {"SUBPIPE_HARDWARE_CACHE": str(tmp_path / "hw.json"), "CI": "true"}
    proc = run_script("bootstrap.sh", "--skip-cache", "--demo", "--cache-dir",
                      str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--profile", "cpu",
                      env=env)
    assert proc.returncode == 0, proc.stderr
    srt = proc.stdout.strip().splitlines()[-1]
    assert srt.endswith(".en.srt") and srt.startswith(str(tmp_path / "out"))
    text = srt_text(Path(srt)).lower()
    assert "offline" in text and "pipeline" in text


def test_bootstrap_demo_on_a_named_file_detects_its_language(tmp_path, speech):
    env = {"SUBPIPE_HARDWARE_CACHE": str(tmp_path / "hw.json"), "CI": "true"}
    proc = run_script("bootstrap.sh", "--skip-cache", "--demo-media", str(speech / "jfk.flac"),
                      "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
                      env=env)
    assert proc.returncode == 0, proc.stderr
    srt = Path(proc.stdout.strip().splitlines()[-1])
    assert srt.name == "jfk.en.srt"
    assert "ask not what your country" in srt_text(srt).lower()
