"""--executor ray on a real Ray cluster on this machine (ray.cluster_utils.Cluster: a head
with no CPU and two one-CPU workers on 127.0.0.1), started once for the module and torn down
after. Nodes advertise the venv resources `node start` would (env:<name>); only the first
worker has env:demucs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from shared.paths import PROJECT_ROOT
from tests.helpers import ROOT, lock, prepare, run_script

pytestmark = pytest.mark.e2e

COMMON = {"env:common": 1.0, "env:whisperx": 1.0}
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
    status = run_script("run-pipeline.sh", "--status", "--out", str(out), *["-j", ids[0]])
    assert lock(out / ids[0])["stages"]["asr"]["node"] in status.stdout
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


def test_a_worker_killed_during_asr_reruns_it_on_the_other(cluster, speech, tmp_path):
    """It removes the first worker (the one with env:demucs)."""
    cl, workers = cluster
    out = tmp_path / "out"
    ids = [prepare("--media", str(m), "-s", "en", "--workflow", "transcribe", out=out)
           for m in copies(speech, tmp_path / "media", 2)]
    jobs = [a for i in ids for a in ("-j", i)]
    driver = subprocess.Popen(
        [str(ROOT / "run-pipeline.sh"), *jobs, "--out", str(out), "--executor", "ray",
         "--ray-address", cl.address], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    logs = [out / i / "logs" / "asr.log" for i in ids]
    deadline = time.monotonic() + 300
    while not all(p.is_file() and "[whisperx]" in p.read_text() for p in logs):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.1)
    killed_at = time.time()
    assert not any("asr" in lock(out / i)["stages"] for i in ids)  # asr still running
    cl.remove_node(workers[0], allow_graceful=False)
    output, _ = driver.communicate(timeout=400)
    assert driver.returncode == 0, output
    survivor = node_ids(workers)[1]
    for job_id in ids:
        stages = lock(out / job_id)["stages"]
        assert stages["asr"]["node"].split("/")[1] == survivor
        before = [r for k, r in stages.items() if k in ("demux", "metadata", "glossary")]
        assert before and all(iso_seconds(r["finished_at"]) <= killed_at for r in before)
        assert (out / job_id / "logs" / "demux.log").read_text().count("$ [common]") == 1
    launches = [p.read_text().count("$ [whisperx]") for p in logs]
    assert sorted(launches) == [1, 2], launches  # only the killed worker's part ran again


def test_a_venv_no_node_has_fails_before_anything_runs(cluster, speech, tmp_path):
    """After the fault test (or alone): only the worker without env:demucs is left."""
    cl, workers = cluster
    if workers[0] in cl.worker_nodes:
        cl.remove_node(workers[0], allow_graceful=False)
    out = tmp_path / "out"
    job_id = prepare("--media", str(speech / "jfk.flac"), "-s", "en", "--separate", out=out)
    proc = run_ray(cl, [job_id], out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no node of the Ray cluster has the demucs environment ready" in proc.stderr
    assert "./bootstrap.sh --envs demucs" in proc.stderr
    assert not (out / job_id / "lock.json").exists()  # nothing ran


def iso_seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
