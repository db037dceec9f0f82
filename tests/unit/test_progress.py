"""The batch progress line: jobs done, what runs where, an ETA from measured RTFs."""

from __future__ import annotations

from shared.progress import Eta, clock, eta_seconds, line


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
