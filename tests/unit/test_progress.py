"""The batch progress line: jobs done, what runs where, an ETA from measured RTFs."""

from __future__ import annotations

from shared.progress import Eta, clock, eta_seconds, line, running_stages


def test_the_eta_sums_each_remaining_stage_at_its_measured_rtf():
    rtfs = {"asr": 0.5, "subtitles": 0.01}
    remaining = [("asr", 600.0), ("subtitles", 600.0), ("asr", 60.0)]
    assert eta_seconds(remaining, rtfs) == Eta(0.5 * 660 + 0.01 * 600, [])
    assert eta_seconds(remaining, rtfs, parallel=2).seconds == (0.5 * 660 + 0.01 * 600) / 2
    later = eta_seconds([("alignment", 600.0), ("asr", 60.0), ("vad", None)], rtfs)
    assert later == Eta(30.0, ["alignment", "vad"])  # not measured, or media length unknown
    assert eta_seconds([], rtfs) == Eta(0.0, [])


def test_the_line_names_jobs_done_stages_on_nodes_and_the_eta():
    text = line(2, 6, {"asr": {"host/1a2b3c4d": 2, "other/5e6f7a8b": 1}}, Eta(80.0, []))
    assert text == ("batch: 2/6 jobs done; asr on host/1a2b3c4d (2 jobs), "
                    "other/5e6f7a8b (1 job); ETA 1m20s")
    assert line(0, 1, {}, Eta(5.0, ["asr"])) == (
        "batch: 0/1 jobs done; ETA >= 0m05s (asr not measured yet)")
    assert line(2, 2, {"asr": {}}, Eta(0.0, [])) == "batch: 2/2 jobs done; ETA 0m00s"
    assert clock(3 * 3600 + 125) == "3h02m"


def test_status_sees_running_stages_only_while_their_run_is_alive(tmp_path):
    """--status names a stage in progress and its node from logs/last_run.json, while
    run.pid names a live process; a killed run's leftovers show nothing running."""
    import json
    import os
    import socket
    import subprocess
    import sys

    from shared.run_record import RunRecord

    record = RunRecord(tmp_path)
    record.decided("demux", "skip", ["up to date"])
    record.decided("asr", "run", ["not run before"])
    record.started("asr")
    record.on_node("asr", "host/1a2b3c4d")
    pid_file = tmp_path / "run.pid"
    assert running_stages(tmp_path) == {}  # no run.pid: nobody holds the job
    pid_file.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert running_stages(tmp_path) == {"asr": "host/1a2b3c4d"}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid_file.write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    assert running_stages(tmp_path) == {}  # its process is gone (killed driver)
    pid_file.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    record.close()
    assert running_stages(tmp_path) == {}  # the run ended: asr was interrupted
