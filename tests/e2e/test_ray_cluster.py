"""--executor ray on a real Ray cluster on this machine (ray.cluster_utils.Cluster: a head
with no CPU and two one-CPU workers on 127.0.0.1), started once for the module and torn down
after. Nodes advertise the resources `node start` would (env:<name>, model:<name> for every
registry model: the test cache holds what the jobs use); only the first worker has
env:demucs."""

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

from shared.paths import PROJECT_ROOT
from tests.helpers import ROOT, lock, prepare, run_script

pytestmark = pytest.mark.e2e

def common_resources() -> dict[str, float]:
    from shared.model_registry import load_models

    return {"env:common": 1.0, "env:whisperx": 1.0,
            **{f"model:{name}": 1.0 for name in load_models().models}}


COMMON = common_resources()
LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="module")
def cluster(test_cache):
    from ray.cluster_utils import Cluster

    from tests import tiny_demucs

    tiny_demucs.install(test_cache)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(PROJECT_ROOT)  # as node start sets it: workers import us
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK,
                                resources={**COMMON, "env:demucs": 1.0}),
               cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK, resources=COMMON)]
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


def run_ray(cluster, ids: list[str], out: Path, *args: str) -> subprocess.CompletedProcess:
    jobs = [a for i in ids for a in ("-j", i)]
    return run_script("run-pipeline.sh", *jobs, "--out", str(out), "--executor", "ray",
                      "--ray-address", cluster.address, *args, timeout=600)


def test_six_jobs_spread_over_both_workers_match_a_local_run(cluster, speech, tmp_path):
    cl, workers = cluster
    media = copies(speech, tmp_path / "media", 6)
    out = tmp_path / "out"
    ids = [prepare("--media", str(m), "-s", "en", "--workflow", "transcribe", out=out)
           for m in media]
    proc = run_ray(cl, ids, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nodes = {r["node"].split("/")[1] for i in ids for r in lock(out / i)["stages"].values()}
    assert nodes == set(node_ids(workers))  # both workers ran stages, the head none
    for job_id in ids:  # the end table's nodes column
        asr_node = lock(out / job_id)["stages"]["asr"]["node"]
        assert any(job_id in line and asr_node in line for line in proc.stdout.splitlines())
    progress = [line for line in proc.stdout.splitlines() if "batch: " in line]
    for worker in node_ids(workers):  # which stage runs on which node, as parts start
        assert any(re.search(rf"asr on [^;]*/{worker} \([0-9] jobs?\)", p) for p in progress)
    assert "batch: 6/6 jobs done" in progress[-1] and " ETA 0m00s" in progress[-1], progress
    assert any(re.search(r"ETA (>= )?[0-9]+m[0-9]+s", p) for p in progress[:-1])
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
    for job_id in ids:
        got = {p.name: p.read_bytes() for p in (out / job_id / "subtitles").iterdir()}
        assert got == expected, job_id
    again = run_ray(cl, ids, out)  # nothing to do: every stage skipped, on any executor
    assert again.returncode == 0 and " done in " not in again.stdout, again.stdout


def test_separation_runs_only_where_the_demucs_venv_is(cluster, speech, tmp_path):
    cl, workers = cluster
    out = tmp_path / "out"
    ids = [prepare("--media", str(m), "-s", "en", "--separate", out=out)
           for m in copies(speech, tmp_path / "media", 2)]
    proc = run_ray(cl, ids, out, "--to", "source_separation")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for job_id in ids:
        record = lock(out / job_id)["stages"]["source_separation"]
        assert record["node"].split("/")[1] == node_ids(workers)[0]


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


def test_a_killed_driver_resumes_when_the_command_runs_again(cluster, speech, tmp_path):
    cl, _ = cluster
    out = tmp_path / "out"
    ids = [prepare("--media", str(m), "-s", "en", "--workflow", "transcribe", out=out)
           for m in copies(speech, tmp_path / "media", 2)]
    driver = start_driver(cl, ids, out)
    logs = [out / i / "logs" / "asr.log" for i in ids]
    wait_for(driver, lambda: all(p.is_file() and "[whisperx]" in p.read_text() for p in logs),
             "asr to start")
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and everything on its machine
    driver.communicate(timeout=60)
    before = {i: lock(out / i)["stages"] for i in ids}
    assert all("demux" in b and "asr" not in b for b in before.values()), before
    again = run_ray(cl, ids, out)
    assert again.returncode == 0, again.stdout + again.stderr
    for job_id in ids:
        stages = lock(out / job_id)["stages"]
        assert {k: stages[k] for k in before[job_id]} == before[job_id]  # kept, not re-run
        assert "asr" in stages and "subtitles:source" in stages
        assert (out / job_id / "logs" / "demux.log").read_text().count("$ [common]") == 1


def test_a_worker_killed_during_asr_reruns_only_its_unfinished_jobs(cluster, speech, tmp_path):
    """Four jobs: a part of two on each worker. The first worker (the one with env:demucs)
    dies after the first job of its part finished asr: only the second runs again, on the
    other worker; no other finished stage reruns."""
    cl, workers = cluster
    out = tmp_path / "out"
    ids = [prepare("--media", str(m), "-s", "en", "--workflow", "transcribe", out=out)
           for m in copies(speech, tmp_path / "media", 4)]
    driver = start_driver(cl, ids, out)
    doomed, survivor = node_ids(workers)
    logs = {i: out / i / "logs" / "asr.log" for i in ids}
    on_doomed = lambda: [i for i in ids if logs[i].is_file()  # noqa: E731
                         and f"running on node {socket.gethostname()}/{doomed}"
                         in logs[i].read_text()]
    wait_for(driver, lambda: len(on_doomed()) == 2 and any(
        asr_done(out / i) for i in on_doomed()), "a job of the first worker to finish asr")
    part = on_doomed()
    cl.remove_node(workers[0], allow_graceful=False)
    killed_at = time.time()
    output, _ = driver.communicate(timeout=400)
    assert driver.returncode == 0, output
    kept = [i for i in part if "finished by an earlier attempt" in logs[i].read_text()]
    assert len(kept) == 1, (part, kept)
    for job_id in ids:
        stages = lock(out / job_id)["stages"]
        assert stages["asr"]["node"].split("/")[1] == (doomed if job_id in kept else survivor)
        before = [r for k, r in stages.items() if k in ("demux", "metadata", "glossary")]
        assert before and all(iso_seconds(r["finished_at"]) <= killed_at for r in before)
        assert (out / job_id / "logs" / "demux.log").read_text().count("$ [common]") == 1
    launches = {i: logs[i].read_text().count("$ [whisperx]") for i in ids}
    rerun = [i for i in part if i not in kept]
    assert launches == {i: 2 if i in rerun else 1 for i in ids}, launches


def test_what_no_node_offers_fails_before_anything_runs(cluster, speech, tmp_path):
    """After the fault test (or alone): only the worker without env:demucs is left, and no
    node has a GPU. Both problems are named at once, exit 2, before any stage runs."""
    cl, workers = cluster
    if workers[0] in cl.worker_nodes:
        cl.remove_node(workers[0], allow_graceful=False)
    cl.wait_for_nodes(timeout=120)  # a node killed just now stays 'alive' until the GCS sees it
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
