"""Both displays report the plan and progress: plain lines for logs and CI, rich in a terminal."""

from __future__ import annotations

import io

from shared.display import PlainDisplay, RichDisplay


def test_plain_display_prints_decisions_progress_and_results():
    out = io.StringIO()
    display = PlainDisplay(out)
    display.begin([("job-1", 3)], dry_run=False)
    display.decision("job-1", "demux", "skip", ["up to date"])
    display.decision("job-1", "asr", "run", ["params.beam_size 5->3"])
    display.stage_started(["job-1"], "asr")
    display.on_line('@@progress {"done": 5, "total": 10}')
    display.on_line("an ordinary log line")
    display.on_line("2026-11-26 10:00:00,000 WARNING stages.vad: almost no speech detected")
    display.stage_finished("job-1", "asr", 2.5)
    display.failed("job-1", "subtitles:source", "boom\nsecond line")
    text = out.getvalue()
    assert "run job-1: 3 stage(s)" in text
    assert "demux                  skip  up to date" in text
    assert "asr                    run   params.beam_size 5->3" in text
    assert " 50.0%" in text and "ordinary" not in text
    assert "    warning: almost no speech detected" in text
    assert "asr: done in 2.5s" in text
    assert "subtitles:source: FAILED: boom" in text and "second line" not in text


def test_rich_display_tracks_stage_progress():
    display = RichDisplay()
    display.console.file = io.StringIO()
    display.progress.console.file = display.console.file
    display.begin([("job-1", 2)], dry_run=False)
    display.decision("job-1", "demux", "skip", ["up to date"])
    display.stage_started(["job-1"], "asr")
    display.on_line('@@progress {"done": 3, "total": 12}')
    task = display.progress.tasks[-1]
    assert task.description == "asr (2/2)" and task.completed == 3 and task.total == 12
    display.stage_finished("job-1", "asr", 1.0)
    assert display.progress.tasks[0].completed == 2  # one skipped + one finished
    display.end()
    assert "asr: done in 1.0s" in display.console.file.getvalue()
