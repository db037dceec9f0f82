"""run-pipeline --prune: a finished job's intermediates go, lock.json remembers them, and a
later run re-makes one only when a stage that reads it must run."""

from __future__ import annotations

import hashlib
import re

import pytest

from shared import lockfile, run_record
from tests.helpers import (
    JFK_TEXT,
    lock,
    prepare,
    run_pipeline,
    run_script,
    srt_text,
    stage_dir,
    stages_ran,
    stages_skipped,
    wer,
)

pytestmark = pytest.mark.e2e

STAGES = ["demux", "metadata", "glossary", "asr", "alignment", "songs", "subtitles:source"]
MB = 1024 * 1024


def recorded(job_dir, rel: str) -> dict:
    return next(o for r in lock(job_dir)["stages"].values() for o in r["outputs"]
                if o["path"] == rel)


def test_prune_frees_intermediates_and_a_stage_that_needs_one_remakes_it(test_cache, speech,
                                                                         jobs_root):
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=jobs_root)
    job_dir = jobs_root / job_id
    never = run_pipeline(job_id, "--prune", out=jobs_root, check=False)
    assert never.returncode == 2, never.stderr
    assert f"cannot prune job {job_id}: it has not finished (not run yet: demux" in never.stderr
    assert f"fix: run it first: ./run-pipeline.sh -j {job_id}" in never.stderr

    mixed = run_pipeline(job_id, "--prune", "--force", out=jobs_root, check=False)
    assert mixed.returncode == 2 and "--prune runs no stage" in mixed.stderr

    run_pipeline(job_id, out=jobs_root)
    with lockfile.hold(job_dir):  # as a run in progress holds it
        busy = run_pipeline(job_id, "--prune", out=jobs_root, check=False)
    assert busy.returncode == 2, busy.stderr
    assert "cannot prune: job" in busy.stderr and "is already being run by process" in busy.stderr

    audio = stage_dir(job_dir, "demux") / "audio_16k.wav"
    jsonl = stage_dir(job_dir, "asr") / "segments.jsonl"
    audio_rel, jsonl_rel = (p.relative_to(job_dir).as_posix() for p in (audio, jsonl))
    audio_sha = hashlib.sha256(audio.read_bytes()).hexdigest()
    audio_size = audio.stat().st_size
    sizes = audio_size + jsonl.stat().st_size
    srt = job_dir / "subtitles" / "jfk.en.srt"
    before = srt.read_bytes()

    pruned = run_pipeline(job_id, "--prune", out=jobs_root)
    assert not audio.exists() and not jsonl.exists()
    assert srt.read_bytes() == before  # deliverables and small reports stay
    assert (stage_dir(job_dir, "asr") / "segments.json").is_file()
    assert "pruned " + job_id + ": 2 file(s)" in pruned.stdout
    assert audio_rel in pruned.stdout and jsonl_rel in pruned.stdout
    freed = float(re.search(r"\(([\d.]+) MB freed\)", pruned.stdout).group(1))
    assert abs(freed - sizes / MB) <= 0.06, pruned.stdout  # lock.json grows by a few bytes
    assert recorded(job_dir, audio_rel) == {"path": audio_rel, "sha256": audio_sha,
                                            "size": audio_size, "pruned": True}

    status = run_script("run-pipeline.sh", "--status", "-j", job_id, "--out", str(jobs_root))
    assert f"{audio_rel} (pruned)" in status.stdout

    again = run_pipeline(job_id, out=jobs_root)
    assert stages_ran(again) == [] and stages_skipped(again) == STAGES

    skipped = run_record.load(job_dir)
    assert {k: (e.state, e.reasons) for k, e in skipped.stages.items()} == {
        k: ("skipped", ["up to date"]) for k in STAGES}

    plan = run_pipeline(job_id, "--dry-run", "--force", "asr", out=jobs_root)
    assert "forced; after re-running demux (pruned inputs)" in plan.stdout
    assert not audio.exists()  # a dry run runs nothing
    assert run_record.load(job_dir) == skipped  # and records nothing

    beam = run_pipeline(job_id, "--set", "asr.beam_size=3", out=jobs_root)
    assert f"re-run: {audio_rel} was pruned and asr needs it" in beam.stdout
    assert stages_ran(beam)[:2] == ["demux", "asr"]
    assert beam.stdout.index("was pruned and asr needs it") < beam.stdout.index(
        "params.beam_size 5->3")  # demux runs again before asr starts
    ran = len(stages_ran(beam))
    assert f"{job_id}: {ran} ran, {len(STAGES) - ran} skipped" in beam.stdout
    assert hashlib.sha256(audio.read_bytes()).hexdigest() == audio_sha  # the same audio again
    assert not recorded(job_dir, audio_rel)["pruned"]
    assert lock(job_dir)["stages"]["asr"]["components"]["params"]["beam_size"] == 3
    # logs/last_run.json: demux ran again only to remake the pruned audio, before asr
    record = run_record.load(job_dir).stages
    assert (record["demux"].state, record["demux"].restored, record["demux"].reasons) == (
        "ran", True, [f"re-run: {audio_rel} was pruned and asr needs it"])
    assert (record["asr"].state, record["asr"].reasons) == ("ran", ["params.beam_size 5->3"])
    assert record["demux"].finished_at <= record["asr"].started_at
    from shared.report.data import collect

    rows = {r["key"]: (r["state"], r["reason"]) for r in collect(job_dir)["stages"]}
    assert rows["demux"] == ("ran", f"re-run: {audio_rel} was pruned and asr needs it")
    assert rows["asr"] == ("ran", "params.beam_size 5->3")
    assert wer(JFK_TEXT, srt_text(srt)) <= 0.10


def test_a_pruned_chain_is_remade_in_order_before_the_stage_that_needs_it(speech, tmp_path):
    from tests import tiny_demucs
    from tests.helpers import make_model_cache

    cache, hw_json = make_model_cache(tmp_path)
    tiny_demucs.install(cache)
    env = {"SUBPIPE_HARDWARE_CACHE": str(hw_json)}
    out = tmp_path / "out"
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--separate",
                     "--set", "source_separation.cpu_threads=1", out=out, env=env)
    run_pipeline(job_id, out=out, env=env)
    job_dir = out / job_id
    separation = stage_dir(job_dir, "source_separation")
    pruned = run_pipeline(job_id, "--prune", out=out, env=env)
    assert "pruned " + job_id + ": 6 file(s)" in pruned.stdout  # 2 demux, 3 stems, 1 jsonl
    assert not list(separation.glob("*.wav"))

    forced = run_pipeline(job_id, "--force", "asr", out=out, env=env)
    demux_rel = (stage_dir(job_dir, "demux") / "audio_44k.wav").relative_to(job_dir).as_posix()
    vocals_rel = (separation / "vocals_16k.wav").relative_to(job_dir).as_posix()
    assert f"re-run: {demux_rel} was pruned and source_separation needs it" in forced.stdout
    assert f"re-run: {vocals_rel} was pruned and asr needs it" in forced.stdout
    assert stages_ran(forced)[:3] == ["demux", "source_separation", "asr"]
    assert (separation / "vocals_16k.wav").is_file()
    assert not [o for r in lock(job_dir)["stages"].values() for o in r["outputs"]
                if o.get("pruned") and o["path"].startswith(demux_rel.rsplit("/", 1)[0])]
