"""The runner's side of a warm stage process (shared/stage_worker.py) against real child
processes: each launch's lines go to its own logs, a launch that dies or times out ends the
process with the result a one-shot process would give. The stage side (`shared.stage_main
--serve` running real stages) is tested end to end in tests/e2e/test_warm_stage_process.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import stage_worker
from shared.environment_manager import EnvironmentManager
from shared.stage_main import DONE_PREFIX
from tests.unit.test_environment_manager import cache, fake_venv  # noqa: F401 (a fixture)

# A stand-in for `shared.stage_main --serve` that speaks its protocol: per order, a line, a
# progress line, then the done line (exit code 0, or 2 for the stage "bad"); "hang" sleeps,
# "die" exits without a done line.
SERVER = f"""
import json, os, sys, time
for line in sys.stdin:
    order = json.loads(line)
    stage = order["stage"].removeprefix("stages.")
    print(f"ran {{stage}} in {{os.getpid()}}", flush=True)
    print('@@progress {{"done": 1, "total": 1}}', flush=True)
    if stage == "hang":
        time.sleep(60)
    if stage == "die":
        sys.exit(5)
    print(f"{DONE_PREFIX}{{order['token']}} {{2 if stage == 'bad' else 0}}", flush=True)
"""


@pytest.fixture
def worker(cache, tmp_path, monkeypatch):  # noqa: F811 (the fixture)
    fake_venv(tmp_path, cache, "common")
    monkeypatch.setattr(stage_worker, "SERVE_ARGV", ["-c", SERVER])
    made = stage_worker.StageWorker(EnvironmentManager(cache), "common", {"A": "1"})
    yield made
    made.close()


def run(worker, stage: str, log: Path, timeout: float | None = 30, seen=None):
    return worker.run(stage, [Path("/j/a")], stage, log_paths=[log], timeout=timeout,
                      on_line=seen.append if seen is not None else None)


def test_consecutive_launches_share_the_process_and_keep_their_own_logs(worker, tmp_path):
    seen: list[str] = []
    first = run(worker, "demux", tmp_path / "demux.log", seen=seen)
    second = run(worker, "metadata", tmp_path / "metadata.log")
    assert first.ok and second.ok and worker.proc.poll() is None
    pid = worker.proc.pid
    assert first.tail == [f"ran demux in {pid}"] and second.tail == [f"ran metadata in {pid}"]
    assert '@@progress {"done": 1, "total": 1}' in seen  # to the display, not to the log
    header, *lines = (tmp_path / "metadata.log").read_text().splitlines()
    assert header.startswith("$ [common] ") and "stages.metadata" in header
    assert header.endswith(f"(warm stage process {pid}, launch 2)")
    assert lines == [f"ran metadata in {pid}"]
    assert first.argv == ["-m", "shared.stage_main", "stages.demux", "--job", "/j/a"]
    assert worker.fits("common", {"A": "1"})
    assert not worker.fits("whisperx", {"A": "1"}) and not worker.fits("common", {})


def test_a_failed_launch_ends_the_process(worker, tmp_path):
    result = run(worker, "bad", tmp_path / "bad.log")
    assert result.returncode == 2 and not result.ok and not result.timed_out
    assert worker.proc.poll() is not None and not worker.fits("common", {"A": "1"})


def test_a_process_that_dies_reports_its_exit_code_and_last_lines(worker, tmp_path):
    result = run(worker, "die", tmp_path / "die.log")
    assert result.returncode == 5 and not result.ok
    assert result.tail == [f"ran die in {worker.proc.pid}"]


def test_a_launch_past_its_timeout_is_killed(worker, tmp_path):
    result = run(worker, "hang", tmp_path / "hang.log", timeout=1.5)
    assert result.timed_out and not result.ok
    assert worker.proc.poll() is not None
    assert "killed after 2s timeout" in (tmp_path / "hang.log").read_text()


@pytest.mark.parametrize("setting", ["true", "false"])
def test_the_local_executor_follows_warm_stage_processes(setting, cache, tmp_path,  # noqa: F811
                                                         monkeypatch):
    """config/pipeline.toml `warm_stage_processes`: true runs launches in a warm process
    (`shared.stage_main --serve`), false starts `shared.stage_main stages.<name>` per launch.
    The launch names a job folder that does not exist: the stage fails the same way in both."""
    from shared.executors import Launch, local

    fake_venv(tmp_path, cache, "common")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "pipeline.toml").write_text(
        f"[runner]\nwarm_stage_processes = {setting}\n")
    monkeypatch.setattr(local, "CONFIG_DIR", tmp_path / "config")
    executor = local.LocalExecutor(EnvironmentManager(cache))
    assert executor.warm is (setting == "true")
    log = tmp_path / "demux.log"
    launch = Launch("demux", "demux", "common", [tmp_path / "no-such-job"], [log], 60, {})
    try:
        (outcome,) = executor.run(launch, None)
    finally:
        executor.close()
    assert outcome.result is not None and outcome.result.returncode == 1
    assert "no-such-job/job.json" in "\n".join(outcome.result.tail)
    assert ("(warm stage process " in log.read_text().splitlines()[0]) is (setting == "true")
    assert not executor.workers
