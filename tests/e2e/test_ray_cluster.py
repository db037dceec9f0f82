"""--executor ray on a real Ray cluster on this machine (ray.cluster_utils.Cluster: a head
with no CPU and two one-CPU workers on 127.0.0.1), started once for the module and torn down
after. Nodes advertise what `node start` would (scripts/node.py: env:<name>, and
model:<name> plus model:<name>@<commit> for every model the test cache holds); only the
first worker has env:demucs. Six tests share this cluster; the fault test removes the
first worker, so the tests after it run on the second (and on nodes they add and remove)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from shared.paths import HARDWARE_CACHE_ENV, PROJECT_ROOT
from tests.helpers import ROOT, ffmpeg, lock, prepare, run_script

pytestmark = [pytest.mark.e2e, pytest.mark.alone]  # a 3-node cluster: nothing beside it

LOOPBACK = "127.0.0.1"


def advertised(test_cache) -> tuple[dict[str, float], dict[str, float]]:
    """(env resources without demucs, model resources) as node start computes them."""
    from scripts.node import node_resources

    resources = node_resources(test_cache, verify_models=False)
    models = {k: v for k, v in resources.items() if k.startswith("model:")}
    return {"env:common": 1.0, "env:whisperx": 1.0}, models


@pytest.fixture(scope="module")
def cluster(test_cache):
    from ray.cluster_utils import Cluster

    from tests import tiny_demucs

    tiny_demucs.install(test_cache)
    envs, models = advertised(test_cache)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(PROJECT_ROOT)  # as node start sets it: workers import us
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK,
                                resources={**envs, **models, "env:demucs": 1.0}),
               cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK,
                                resources={**envs, **models})]
    assert cluster.address.startswith(LOOPBACK + ":")
    try:
        yield cluster, workers
    finally:
        cluster.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def node_ids(workers) -> list[str]:
    return [w.node_id[:8] for w in workers]


def copies(speech: Path, folder: Path, n: int) -> list[Path]:
    """n copies of jfk.flac, each in its own folder (same name: same title, same outputs)."""
    paths = []
    for i in range(n):
        (folder / f"c{i}").mkdir(parents=True)
        paths.append(Path(shutil.copy(speech / "jfk.flac", folder / f"c{i}" / "jfk.flac")))
    return paths


def run_ray(cluster, ids: list[str], out: Path, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    jobs = [a for i in ids for a in ("-j", i)]
    return run_script("run-pipeline.sh", *jobs, "--out", str(out), "--executor", "ray",
                      "--ray-address", cluster.address, *args, timeout=600, env=env)


def batch_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if "batch: " in line]


def driver_without_models(test_cache, folder: Path) -> Path:
    """A hardware cache like the test's whose model cache is empty: the driver's machine."""
    hub = folder / "hub"
    hub.mkdir(parents=True)
    paths = test_cache.cache.model_copy(update={"hf_hub_cache": hub})
    test_cache.model_copy(update={"cache": paths}).save(folder / "hardware_cache.json")
    return folder / "hardware_cache.json"


def test_six_jobs_spread_over_both_workers_match_a_local_run(cluster, speech, tmp_path,
                                                             test_cache):
    """A driver whose cache holds no model runs the jobs up to asr (the nodes have the
    models; the fingerprint takes their revision); a driver with the cache runs the rest:
    what the first did is skipped, and the ETA counts only the stages that will run."""
    cl, workers = cluster
    media = copies(speech, tmp_path / "media", 6)
    out = tmp_path / "out"
    ids = [prepare("--media", str(m), "-s", "en", "--workflow", "transcribe", out=out)
           for m in media]
    bare = driver_without_models(test_cache, tmp_path / "driver")
    first = run_ray(cl, ids, out, "--to", "asr", env={HARDWARE_CACHE_ENV: str(bare)})
    assert first.returncode == 0, first.stdout + first.stderr
    nodes = {r["node"].split("/")[1] for i in ids for r in lock(out / i)["stages"].values()}
    assert nodes == set(node_ids(workers))  # both workers ran stages, the head none
    from shared.model_registry import load_models

    commit = load_models().model("faster-whisper-base").cached_revision(
        test_cache.cache.hf_hub_cache)
    for job_id in ids:  # the end table's nodes column
        asr = lock(out / job_id)["stages"]["asr"]
        assert any(job_id in line and asr["node"] in line for line in first.stdout.splitlines())
        model = asr["components"]["models"]["faster-whisper-base"]
        assert commit and model == f"Systran/faster-whisper-base@{commit}"  # the nodes'
    # a node's Ray worker keeps its stage processes warm: metadata's part ran in the
    # process demux's part on that node left (its second launch), not in a new one
    launches = [re.search(r"warm stage process (\d+), launch (\d+)", (
        out / i / "logs" / f"{key}.log").read_text()) for i in ids for key in ("demux",
                                                                              "metadata")]
    assert all(launches), "every part ran in a warm stage process"
    assert any(m.group(2) != "1" for m in launches[1::2]), [m.group(0) for m in launches]
    for worker in node_ids(workers):  # which stage runs on which node, as parts start
        assert any(re.search(rf"asr on [^;]*/{worker} \([0-9] jobs?\)", p)
                   for p in batch_lines(first))
    before = {i: lock(out / i)["stages"] for i in ids}
    second = run_ray(cl, ids, out)
    assert second.returncode == 0, second.stdout + second.stderr
    for job_id in ids:  # the driver's own cache gives the same fingerprints: all skipped
        stages = lock(out / job_id)["stages"]
        assert {k: stages[k] for k in before[job_id]} == before[job_id]
    progress = batch_lines(second)
    # asr and what came before it are measured but skipped: the ETA does not count them
    assert "ETA >= 0m00s (" in progress[0] and "asr" not in progress[0].split("ETA")[1], \
        progress
    assert "batch: 6/6 jobs done" in progress[-1] and " ETA 0m00s" in progress[-1], progress
    status = run_script("run-pipeline.sh", "--status", "--out", str(out), *["-j", ids[0]])
    assert lock(out / ids[0])["stages"]["asr"]["node"] in status.stdout
    batch = run_script("run-pipeline.sh", "--status", "--out", str(out),
                       *[a for i in ids for a in ("-j", i)])
    assert "batch: 6/6 jobs done; ETA 0m00s" in batch.stdout, batch.stdout
    from shared.report.data import collect

    rows = {row["key"]: row for row in collect(out / ids[0])["stages"]}
    assert rows["asr"]["node"] == lock(out / ids[0])["stages"]["asr"]["node"]
    local = prepare("--media", str(media[0]), "-s", "en", "--workflow", "transcribe",
                    out=tmp_path / "local")
    ref = run_script("run-pipeline.sh", "-j", local, "--out", str(tmp_path / "local"))
    assert ref.returncode == 0, ref.stdout + ref.stderr
    expected = {p.name: p.read_bytes() for p in (tmp_path / "local" / local /
                                                 "subtitles").iterdir()}
    assert any(name.endswith(".srt") for name in expected)
    for job_id in ids:  # each node's asr computed with the one CPU its task was given
        got = {p.name: p.read_bytes() for p in (out / job_id / "subtitles").iterdir()}
        assert got == expected, job_id
        asr = lock(out / job_id)["stages"]["asr"]
        assert asr["info"]["cpu_threads"] == 1, asr["info"]
        assert "cpu_threads" not in asr["components"]["params"]
    here = lock(tmp_path / "local" / local)["stages"]["asr"]["info"]["cpu_threads"]
    assert here == test_cache.defaults.cpu_threads  # a local run: the machine's default


def test_no_cluster_is_a_clear_error_naming_node_start(speech, tmp_path, test_cache):
    out = tmp_path / "out"
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", out=out)
    proc = run_script("run-pipeline.sh", "-j", job_id, "--out", str(out), "--executor", "ray",
                      "--ray-address", f"{LOOPBACK}:9", timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no Ray cluster reachable at 127.0.0.1:9" in proc.stderr
    assert "./run-pipeline.sh node start --head" in proc.stderr
    assert not (out / job_id / "lock.json").exists()


def start_driver(cluster, ids: list[str], out: Path) -> subprocess.Popen:
    jobs = [a for i in ids for a in ("-j", i)]
    return subprocess.Popen(
        [str(ROOT / "run-pipeline.sh"), *jobs, "--out", str(out), "--executor", "ray",
         "--ray-address", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)


def wait_for(driver: subprocess.Popen, ready, what: str) -> None:
    deadline = time.monotonic() + 300
    while not ready():
        assert driver.poll() is None, driver.communicate()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def asr_done(job_dir: Path) -> bool:
    """asr's process finished this job (result.json ok), recorded by the driver or not."""
    from shared import job as jobs
    from shared.stage import RESULT_FILE

    result = job_dir / jobs.load(job_dir).instance("asr").dir / RESULT_FILE
    return result.is_file() and json.loads(result.read_text())["status"] == "ok"


def running_on(job_dir: Path, key: str) -> str | None:
    """The node the job's run record says ``key`` is running on (None: not running)."""
    from shared import run_record

    last = run_record.load(job_dir)
    entry = last.stages.get(key) if last is not None else None
    return entry.node if entry is not None and entry.state == "running" else None


def test_separation_stays_on_its_node_and_a_killed_driver_resumes(cluster, speech, tmp_path):
    """Two jobs, the first (4 s of speech) with separation: it runs on the worker with the
    demucs venv. The driver is stopped while asr runs: --status names the stage and its
    node; then it is killed, --status shows nothing running, and the same command finishes
    without redoing a stage."""
    cl, workers = cluster
    out = tmp_path / "out"
    short, whole = copies(speech, tmp_path / "media", 2)
    clip = short.with_suffix(".wav")
    ffmpeg("-i", str(short), "-t", "4", str(clip))
    ids = [prepare("--media", str(clip), "-s", "en", "--workflow", "transcribe", "--separate",
                   out=out),
           prepare("--media", str(whole), "-s", "en", "--workflow", "transcribe", out=out)]
    everyone = [a for i in ids for a in ("-j", i)]
    driver = start_driver(cl, ids, out)
    wait_for(driver, lambda: any(running_on(out / i, "asr") for i in ids),
             "asr to start on a node")
    os.killpg(driver.pid, signal.SIGSTOP)  # the driver and everything on its machine
    job_id = next(i for i in ids if running_on(out / i, "asr"))
    node = running_on(out / job_id, "asr")
    assert f"asr: running on node {node}" in (out / job_id / "logs" / "asr.log").read_text()
    status = run_script("run-pipeline.sh", "--status", "--out", str(out), *everyone)
    assert re.search(rf"batch: 0/2 jobs done; asr on [^;]*{re.escape(node)} \(1 job\)",
                     status.stdout), status.stdout
    os.killpg(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=60)
    status = run_script("run-pipeline.sh", "--status", "--out", str(out), *everyone)
    assert "batch: 0/2 jobs done; ETA" in status.stdout, status.stdout  # nothing runs now
    before = {i: lock(out / i)["stages"] for i in ids}
    # the job whose asr was running is not recorded; the other's (the 4-s clip's) may have
    # finished before the stop: then it must be kept too
    assert all("demux" in b for b in before.values()) and "asr" not in before[job_id], before
    assert before[ids[0]]["source_separation"]["node"].split("/")[1] == node_ids(workers)[0]
    again = run_ray(cl, ids, out)
    assert again.returncode == 0, again.stdout + again.stderr
    for job_id in ids:
        stages = lock(out / job_id)["stages"]
        assert {k: stages[k] for k in before[job_id]} == before[job_id]  # kept, not re-run
        assert "asr" in stages and "subtitles:source" in stages
        assert (out / job_id / "logs" / "demux.log").read_text().count("$ [common]") == 1


def test_a_worker_killed_during_asr_keeps_what_finished_and_reruns_the_rest(cluster, speech,
                                                                           tmp_path):
    """Four jobs: a part of two on each worker. The first worker (the one with env:demucs)
    dies after the first job of its part finished asr, and the second job's media has gone:
    Ray retries the part on the other worker, which finds the first job done and cannot see
    the second's media, so the part fails for good. The first job is recorded ok (on the
    dead node) and goes on; only the second fails. With its media back, the same command
    runs its asr on the surviving worker; no other finished stage reruns."""
    cl, workers = cluster
    out = tmp_path / "out"
    media = copies(speech, tmp_path / "media", 4)
    ids = [prepare("--media", str(m), "-s", "en", "--workflow", "transcribe", out=out)
           for m in media]
    driver = start_driver(cl, ids, out)
    doomed, survivor = node_ids(workers)
    logs = {i: out / i / "logs" / "asr.log" for i in ids}
    on_doomed = lambda: [i for i in ids if logs[i].is_file()  # noqa: E731
                         and f"running on node {socket.gethostname()}/{doomed}"
                         in logs[i].read_text()]
    wait_for(driver, lambda: len(on_doomed()) == 2 and any(
        asr_done(out / i) for i in on_doomed()), "a job of the first worker to finish asr")
    part = on_doomed()
    done, lost = part  # a part's jobs run in order: the first finished, the second runs
    hidden = media[ids.index(lost)]
    hidden.rename(hidden.with_suffix(".away"))  # asr reads demux's audio, not the media
    cl.remove_node(workers[0], allow_graceful=False)
    killed_at = time.time()
    output, _ = driver.communicate(timeout=400)
    assert driver.returncode == 1, output
    assert "finished by an earlier attempt; not run again on " in logs[done].read_text()
    from shared import run_record

    failed = run_record.load(out / lost).stages["asr"]
    assert failed.state == "failed" and "cannot see" in failed.error, failed
    assert hidden.name in failed.error and "mount the media" in failed.fix
    assert "subtitles:source" in lock(out / done)["stages"]  # recorded ok, and went on
    assert "asr" not in lock(out / lost)["stages"]
    hidden.with_suffix(".away").rename(hidden)
    again = run_ray(cl, ids, out)
    assert again.returncode == 0, again.stdout + again.stderr
    for job_id in ids:
        stages = lock(out / job_id)["stages"]
        assert stages["asr"]["node"].split("/")[1] == (doomed if job_id == done else survivor)
        before = [r for k, r in stages.items() if k in ("demux", "metadata", "glossary")]
        assert before and all(iso_seconds(r["finished_at"]) <= killed_at for r in before)
        assert (out / job_id / "logs" / "demux.log").read_text().count("$ [common]") == 1
    launches = {i: logs[i].read_text().count("$ [whisperx]") for i in ids}
    assert launches == {i: 2 if i == lost else 1 for i in ids}, launches


def drop_demucs_worker(cluster):
    """The cluster without the first worker (the one with env:demucs), as the fault test
    leaves it; removed here when a test runs alone."""
    cl, workers = cluster
    if workers[0] in cl.worker_nodes:
        cl.remove_node(workers[0], allow_graceful=False)
    cl.wait_for_nodes(timeout=120)  # a node killed just now stays 'alive' until the GCS sees it
    return cl


def add_demucs_node(cl, test_cache):
    """A new one-CPU node advertising the venvs, the cached models and the demucs venv."""
    envs, models = advertised(test_cache)
    return cl.add_node(num_cpus=1, node_ip_address=LOOPBACK,
                       resources={**envs, **models, "env:demucs": 1.0})


def separation_job(speech: Path, tmp_path: Path, out: Path) -> str:
    """A job separating a minute of speech (jfk six times over): long enough that its
    separation is still running when the test kills the node it started on."""
    media = tmp_path / "media" / "minute.wav"
    media.parent.mkdir()
    ffmpeg("-stream_loop", "5", "-i", str(speech / "jfk.flac"), str(media))
    return prepare("--media", str(media), "-s", "en", "--workflow", "transcribe", "--separate",
                   out=out)


def test_a_stage_whose_only_node_died_fails_its_job_and_resumes_on_a_new_node(
        cluster, speech, tmp_path, test_cache):
    """A node with env:demucs joins; while it separates a minute-long job's audio it is
    killed, and no other node has the demucs venv. Ray would keep the retried part waiting
    for such a node; after --ray-node-wait seconds with no alive node that qualifies, the
    job fails naming what is missing and the fix, and nothing it finished is lost. With a
    demucs node back, the same command goes on from separation."""
    cl = drop_demucs_worker(cluster)
    out = tmp_path / "out"
    job_id = separation_job(speech, tmp_path, out)
    added = [add_demucs_node(cl, test_cache)]
    try:
        cl.wait_for_nodes(timeout=120)
        jobs = ["-j", job_id, "--out", str(out), "--executor", "ray", "--ray-address",
                cl.address, "--ray-node-wait", "5"]
        driver = subprocess.Popen([str(ROOT / "run-pipeline.sh"), *jobs],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True)
        wait_for(driver, lambda: running_on(out / job_id, "source_separation"),
                 "separation to start on the new node")
        assert running_on(out / job_id, "source_separation").endswith(added[0].node_id[:8])
        cl.remove_node(added[0], allow_graceful=False)
        output, _ = driver.communicate(timeout=300)
        assert driver.returncode == 1, output
        assert "source_separation waited" in output, output
        assert "no node of the Ray cluster has the demucs environment ready" in output
        assert "./bootstrap.sh --envs demucs" in output
        assert "run the same command again" in output
        stages = lock(out / job_id)["stages"]
        assert "demux" in stages and "source_separation" not in stages, stages
        added.append(add_demucs_node(cl, test_cache))
        cl.wait_for_nodes(timeout=120)
        again = run_script("run-pipeline.sh", *jobs, timeout=600)
        assert again.returncode in (0, 3), again.stdout + again.stderr  # 3: degraded, ok
        after = lock(out / job_id)["stages"]
        assert after["demux"] == stages["demux"]  # kept, not re-run
        assert after["source_separation"]["node"].endswith(added[1].node_id[:8])
        assert "subtitles:source" in after
    finally:
        for node in added:
            if node in cl.worker_nodes:
                cl.remove_node(node, allow_graceful=False)


def test_a_part_whose_retries_run_out_fails_its_job_and_not_the_others(cluster, speech,
                                                                        tmp_path, test_cache):
    """Three nodes with env:demucs join; each is killed while it separates the first job's
    audio, so the first attempt and both of Ray's retries die: the part fails for good (a
    RayError), the job fails with the fix, and the batch's other job (no separation) still
    finishes on the workers."""
    cl = drop_demucs_worker(cluster)
    out = tmp_path / "out"
    separated = separation_job(speech, tmp_path, out)
    plain = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--workflow",
                    "transcribe", out=out)
    added = {node.node_id[:8]: node for node in
             [add_demucs_node(cl, test_cache) for _ in range(3)]}
    log = out / separated / "logs" / "source_separation.log"
    mark = "# source_separation: running on node "
    try:
        cl.wait_for_nodes(timeout=120)
        driver = start_driver(cl, [separated, plain], out)
        for attempt in range(1, 4):  # the first attempt, then Ray's 2 retries
            wait_for(driver, lambda n=attempt: log.is_file() and log.read_text().count(mark) == n,
                     f"attempt {attempt} of separation to start")
            node = log.read_text().split(mark)[-1].split()[0].rsplit("/", 1)[1]
            cl.remove_node(added.pop(node), allow_graceful=False)
        output, _ = driver.communicate(timeout=300)
        assert driver.returncode == 1, output
        assert "the Ray task failed after 2 retries" in output, output
        assert "run the same command again: finished stages are kept" in output
        stages = lock(out / separated)["stages"]
        assert "demux" in stages and "source_separation" not in stages, stages
        assert "subtitles:source" in lock(out / plain)["stages"]  # not stopped by the other
    finally:
        for node in added.values():
            cl.remove_node(node, allow_graceful=False)


def test_what_no_node_offers_fails_before_anything_runs(cluster, speech, tmp_path):
    """After the fault test (or alone): only the worker without env:demucs is left, and no
    node has a GPU. Both problems are named at once, exit 2, before any stage runs."""
    cl = drop_demucs_worker(cluster)
    out = tmp_path / "out"
    separate = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--separate", out=out)
    on_gpu = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--workflow",
                     "transcribe", "--set", "asr.device=cuda", out=out)
    proc = run_ray(cl, [separate, on_gpu], out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no node of the Ray cluster has the demucs environment ready" in proc.stderr
    assert "./bootstrap.sh --envs demucs" in proc.stderr
    assert "no node of the Ray cluster offers all that asr needs" in proc.stderr
    assert "lacks a GPU" in proc.stderr and "--set asr.device=cpu" in proc.stderr
    for job_id in (separate, on_gpu):
        assert not (out / job_id / "lock.json").exists()  # nothing ran


def iso_seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
