"""Pure pieces of the core: HF cache layout checks, fingerprints, run locks, venv state,
option parsing."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time

import pytest

from scripts.prepare import parse_time
from shared import fingerprint, hf_cache, lockfile, venvs
from shared.errors import InputError, JobBusyError
from shared.file_hashes import HashMemo
from shared.overrides import parse_set
from shared.paths import venv_python

REPO = "org/model"
REV = "a" * 40


def make_repo(hub, files=None):
    sources = {}
    for name, data in (files or {"config.json": b"{}", "model.bin": b"weights"}).items():
        path = hub.parent / f"src-{name}"
        path.write_bytes(data)
        sources[name] = path
    return hf_cache.install_snapshot(hub, REPO, REV, sources)


def test_installed_snapshot_has_the_hub_layout_and_checks_ok(tmp_path):
    hub = tmp_path / "hub"
    snap = make_repo(hub)
    folder = hf_cache.repo_folder(hub, REPO)
    assert folder.name == "models--org--model"
    assert (folder / "refs" / "main").read_bytes() == REV.encode()  # no trailing newline
    assert (snap / "model.bin").is_symlink() and (snap / "model.bin").read_bytes() == b"weights"
    assert hf_cache.is_cached(hub, REPO)
    assert hf_cache.check_repo(hub, REPO).status == "ok"


def test_check_repo_finds_missing_and_corrupt_entries(tmp_path):
    hub = tmp_path / "hub"
    assert hf_cache.check_repo(hub, REPO).status == "missing"
    snap = make_repo(hub)
    ref = hf_cache.repo_folder(hub, REPO) / "refs" / "main"
    ref.write_text(REV + "\n")
    assert "newline" in hf_cache.check_repo(hub, REPO).detail
    ref.write_text(REV)
    blob = (snap / "model.bin").resolve()
    blob.write_bytes(b"weigh")  # a truncated download
    check = hf_cache.check_repo(hub, REPO)
    assert check.status == "corrupt" and "model.bin" in check.detail
    blob.unlink()
    assert "missing blob" in hf_cache.check_repo(hub, REPO).detail


def test_a_partial_snapshot_is_not_cached(tmp_path):
    hub = tmp_path / "hub"
    snap = make_repo(hub)
    listing = {"format_version": 1, "files": {"config.json": {"size": 2, "blob_id": "x"},
                                              "model.bin": {"size": 7, "blob_id": "y"},
                                              "tokenizer.json": {"size": 9, "blob_id": "z"}}}
    trees = hf_cache.repo_folder(hub, REPO) / "trees"
    trees.mkdir()
    (trees / f"{REV}.json").write_text(json.dumps(listing))
    assert not hf_cache.is_cached(hub, REPO)  # a run must not pick it
    check = hf_cache.check_repo(hub, REPO)
    assert check.status == "incomplete" and "tokenizer.json" in check.detail
    (snap / "tokenizer.json").write_text("{}")
    assert hf_cache.is_cached(hub, REPO) and hf_cache.check_repo(hub, REPO).status == "ok"


def test_git_sha1_blob_names_are_verified_too(tmp_path):
    hub = tmp_path / "hub"
    snap = make_repo(hub, {"config.json": b"{}"})
    blob = (snap / "config.json").resolve()
    git_name = hf_cache.git_blob_sha1(blob)
    expected = subprocess.run(["git", "hash-object", str(blob)], capture_output=True,
                              text=True).stdout.strip()
    assert git_name == expected
    renamed = blob.with_name(git_name)
    blob.rename(renamed)
    (snap / "config.json").unlink()
    (snap / "config.json").symlink_to(os.path.relpath(renamed, snap))
    assert hf_cache.check_repo(hub, REPO).status == "ok"


def test_fingerprint_explains_what_changed():
    old = {"stage": "asr@1", "source": "x", "environment": "whisperx:1",
           "params": {"beam_size": 5, "language": "hi"}, "models": {"base": "a@1"},
           "inputs": {"audio": "h1"}}
    new = json.loads(json.dumps(old))
    assert fingerprint.digest(old) == fingerprint.digest(new)
    new["params"]["beam_size"] = 3
    new["inputs"]["audio"] = "h2"
    new["source"] = "y"
    assert fingerprint.explain(old, new) == ["stage code changed", "params.beam_size 5->3",
                                             "input audio modified"]
    assert fingerprint.digest(old) != fingerprint.digest(new)


def test_the_threads_a_stage_computes_with_are_not_fingerprinted():
    """cpu_threads changes how fast, not what: a Ray node's one thread, a local run's
    eight, and a record made while the threads were still fingerprinted all match."""
    params = {"beam_size": 5, "cpu_threads": 8}
    parts = {"stage": "asr@1", "params": fingerprint.params_part(params), "inputs": {"a": "h"}}
    assert parts["params"] == {"beam_size": 5}
    assert fingerprint.matches(fingerprint.digest(parts), parts, parts)
    legacy = {**parts, "params": {"beam_size": 5, "cpu_threads": 2}}  # recorded before
    assert fingerprint.matches(fingerprint.digest(legacy), legacy, parts)
    changed = {**legacy, "params": {"beam_size": 3, "cpu_threads": 2}}
    assert not fingerprint.matches(fingerprint.digest(changed), changed, parts)
    assert not fingerprint.matches(fingerprint.digest(changed), changed,
                                   {**parts, "params": {"beam_size": 3}, "inputs": {"a": "x"}})
    # where a driver's project keeps metadata's application caches is not what it writes
    metadata = {"title": "Lagaan", "tmdb_cache_dir": "/a/.cache/app/tmdb",
                "musicbrainz_cache_dir": "/a/.cache/app/musicbrainz"}
    assert fingerprint.params_part(metadata) == {"title": "Lagaan"}


def test_hash_memo_reuses_hashes_until_the_file_changes(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"one")
    memo = HashMemo(tmp_path / "memo.json")
    first = memo.sha256(f)
    memo.save()
    again = HashMemo(tmp_path / "memo.json")
    assert again.sha256(f) == first and not again._dirty
    f.write_bytes(b"two!")
    assert again.sha256(f) != first


def test_run_lock_refuses_a_live_holder_and_takes_over_from_a_dead_one(tmp_path):
    with lockfile.hold(tmp_path):
        with pytest.raises(JobBusyError, match=str(os.getpid())):
            with lockfile.hold(tmp_path):
                pass
    assert not (tmp_path / lockfile.RUN_PID_FILE).exists()
    _stale_pid_file(tmp_path)
    with lockfile.hold(tmp_path):
        assert json.loads((tmp_path / lockfile.RUN_PID_FILE).read_text())["pid"] == os.getpid()


def _stale_pid_file(job_dir) -> None:
    """run.pid left by a run that died: its process is gone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (job_dir / lockfile.RUN_PID_FILE).write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname()}))


def test_run_lock_is_not_fooled_by_a_reused_pid(tmp_path):
    """A run that crashed left run.pid naming a pid that now belongs to an unrelated live
    process (pids are reused, and always after a reboot): the job is free all the same."""
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / lockfile.RUN_PID_FILE).write_text(json.dumps(
            {"pid": unrelated.pid, "host": socket.gethostname()}))
        with lockfile.hold(tmp_path):
            assert json.loads((tmp_path / lockfile.RUN_PID_FILE).read_text())["pid"] == \
                os.getpid()
    finally:
        unrelated.kill()
        unrelated.wait()


def _race_for_the_lock(job_dir, go, release, results) -> None:
    go.wait()
    try:
        with lockfile.hold(job_dir):
            results.put(("won", os.getpid()))
            release.wait(60)  # held until every rival has tried
    except JobBusyError as e:
        results.put(("busy", str(e)))


def test_runners_racing_for_a_stale_run_lock_leave_exactly_one_holder(tmp_path):
    _stale_pid_file(tmp_path)
    go, release = multiprocessing.Event(), multiprocessing.Event()
    results = multiprocessing.Queue()
    runners = [multiprocessing.Process(target=_race_for_the_lock,
                                       args=(tmp_path, go, release, results))
               for _ in range(8)]
    for runner in runners:
        runner.start()
    time.sleep(0.5)  # every runner waits at the start line
    go.set()
    outcomes = [results.get(timeout=60) for _ in runners]
    release.set()
    for runner in runners:
        runner.join(timeout=60)
    winners = [who for what, who in outcomes if what == "won"]
    assert len(winners) == 1, outcomes
    assert all("is already being run by" in message
               for what, message in outcomes if what == "busy"), outcomes
    assert not (tmp_path / lockfile.RUN_PID_FILE).exists()  # the winner cleaned up
    with lockfile.hold(tmp_path):  # and the lock is free again
        pass


def test_venv_state_tells_missing_incomplete_stale_and_ready(tmp_path):
    lock = tmp_path / "uv.lock"
    lock.write_text("v1")
    venv = tmp_path / "venv"
    assert venvs.venv_state(venv, lock)[0] == "missing"
    venv.mkdir()
    assert venvs.venv_state(venv, lock)[0] == "incomplete"
    python = venv_python(venv)
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    assert venvs.venv_state(venv, lock)[0] == "incomplete"
    (venv / venvs.MARKER).write_text(json.dumps({"lock_sha256": venvs.lock_sha256(lock)}))
    assert venvs.venv_state(venv, lock) == ("ready", "up to date")
    lock.write_text("v2")
    assert venvs.venv_state(venv, lock)[0] == "stale"


@pytest.mark.parametrize("text, seconds", [("90", 90), ("1:30", 90), ("01:02:03.5", 3723.5),
                                            ("0:45", 45), ("12.25", 12.25)])
def test_parse_time(text, seconds):
    assert parse_time(text, "--start-time") == seconds


@pytest.mark.parametrize("bad", ["1:2:3:4", "abc", "-5", ""])
def test_parse_time_rejects_garbage(bad):
    with pytest.raises(InputError, match="is not a time"):
        parse_time(bad, "--start-time")


def test_parse_set_reads_json_values_and_rejects_malformed_items():
    assert parse_set("asr.beam_size=3") == ("asr", "beam_size", 3)
    assert parse_set("asr.initial_prompt=Shree Ram") == ("asr", "initial_prompt", "Shree Ram")
    assert parse_set("asr.temperatures=[0,0.2]") == ("asr", "temperatures", [0, 0.2])
    assert parse_set("asr.vad_filter=false") == ("asr", "vad_filter", False)
    for bad in ("asr=3", "beam_size=3", "asr.beam_size", ".x=1"):
        with pytest.raises(InputError, match="malformed"):
            parse_set(bad)


def test_speech_regions_group_into_chunks_of_at_most_max_chunk_of_speech():
    from stages.asr.decode import group_spans, speech_groups

    regions = [{"start": 40.0, "end": 45.0}, {"start": 1.0, "end": 4.0},
               {"start": 5.0, "end": 20.0}, {"start": 28.0, "end": 33.0},
               {"start": 50.0, "end": 95.0}, {"start": 96.0, "end": 96.0}]
    groups = speech_groups(regions, 30.0)
    # silence between regions does not count: 3 + 15 + 5 + 5 = 28 s of speech in one group
    assert groups[0] == [(1.0, 4.0), (5.0, 20.0), (28.0, 33.0), (40.0, 45.0)]
    assert groups[1:] == [[(50.0, 80.0)], [(80.0, 95.0)]]  # a long region is cut
    assert group_spans(groups) == [(1.0, 45.0), (50.0, 80.0), (80.0, 95.0)]
    assert speech_groups([], 30.0) == []
