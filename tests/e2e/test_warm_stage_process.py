"""Consecutive stages of one venv run in one warm stage process (shared/stage_worker.py), yet
each keeps its own log, result.json and lock.json entry, and a stage that fails after others
ran in the same process loses nothing of theirs: the re-run skips them and runs only it. The
next venv's process starts ahead and imports its stage's libraries meanwhile."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import lock, prepare, run_pipeline, stage_dir, stages_ran, stages_skipped

pytestmark = pytest.mark.e2e

GOOD_GLOSSARY = "Americans\tAmericans\t\tthe speech's audience\tjob\n"
WARM = re.compile(r"^\$ \[(\w+)\] .* \(warm stage process (\d+), launch (\d+)"
                  r"(?:, started ahead)?\)$", re.M)


def warm_launch(job_dir: Path, key: str) -> tuple[str, int, int]:
    """(venv, pid, launch number) from the header of the stage's own log."""
    found = WARM.findall((job_dir / "logs" / f"{key}.log").read_text("utf-8"))
    assert len(found) == 1, (key, found)
    env, pid, launch = found[0]
    return env, int(pid), int(launch)


def test_a_failing_third_stage_keeps_the_first_two_recorded(test_cache, speech, tmp_path):
    jobs_root = tmp_path / "out"
    media = Path(shutil.copy(speech / "jfk.flac", tmp_path / "jfk.flac"))
    glossary = tmp_path / "terms.tsv"
    glossary.write_text(GOOD_GLOSSARY, "utf-8")
    job_id = prepare("--media", str(media), "-s", "en", "--glossary", str(glossary),
                     out=jobs_root)
    job_dir = jobs_root / job_id
    # a line with too many columns: the glossary stage fails inside its process
    (job_dir / "glossary.tsv").write_text("a\tb\tc\td\te\tf\tg\n", "utf-8")

    first = run_pipeline(job_id, "--to", "glossary", out=jobs_root, check=False)
    assert first.returncode == 1, first.stdout + first.stderr
    assert stages_ran(first) == ["demux", "metadata"]
    launches = {key: warm_launch(job_dir, key) for key in ("demux", "metadata", "glossary")}
    assert {env for env, _, _ in launches.values()} == {"common"}
    assert len({pid for _, pid, _ in launches.values()}) == 1, launches  # one process
    assert [n for _, _, n in launches.values()] == [1, 2, 3]
    # each stage's own log holds its own output only
    assert "line 1: 7 columns" in (job_dir / "logs" / "glossary.log").read_text("utf-8")
    assert "columns" not in (job_dir / "logs" / "metadata.log").read_text("utf-8")
    recorded = lock(job_dir)["stages"]
    assert set(recorded) == {"demux", "metadata"}
    assert recorded["demux"]["outputs"] and recorded["metadata"]["fingerprint"]
    for key in ("demux", "metadata"):
        assert (stage_dir(job_dir, key) / "result.json").is_file()
    failed = (stage_dir(job_dir, "glossary") / "result.json").read_text("utf-8")
    assert '"status": "failed"' in failed and "7 columns" in failed

    (job_dir / "glossary.tsv").write_text(GOOD_GLOSSARY, "utf-8")
    second = run_pipeline(job_id, "--to", "glossary", out=jobs_root)
    assert stages_skipped(second) == ["demux", "metadata"]
    assert stages_ran(second) == ["glossary"]
    assert set(lock(job_dir)["stages"]) == {"demux", "metadata", "glossary"}
    _, pid, launch = warm_launch_last(job_dir, "glossary")
    assert pid != launches["glossary"][1] and launch == 1  # a fresh process after the failure


def warm_launch_last(job_dir: Path, key: str) -> tuple[str, int, int]:
    found = WARM.findall((job_dir / "logs" / f"{key}.log").read_text("utf-8"))
    env, pid, launch = found[-1]
    return env, int(pid), int(launch)


AHEAD = re.compile(r"^\[warm\] imported ahead for asr while earlier stages ran: (.*) \([\d.]+ s\)$",
                   re.M)


def test_the_next_venvs_process_starts_ahead_and_imports_while_earlier_stages_run(
        test_cache, speech, tmp_path):
    jobs_root = tmp_path / "out"
    media = Path(shutil.copy(speech / "jfk.flac", tmp_path / "jfk.flac"))
    job_id = prepare("--media", str(media), "-s", "en", "--workflow", "transcribe",
                     out=jobs_root)
    job_dir = jobs_root / job_id
    run = run_pipeline(job_id, out=jobs_root, check=False)
    assert run.returncode in (0, 3), run.stdout + run.stderr
    assert stages_ran(run)[:4] == ["demux", "metadata", "glossary", "asr"]

    asr_log = (job_dir / "logs" / "asr.log").read_text("utf-8")
    header = next(line for line in asr_log.splitlines() if line.startswith("$ "))
    assert header.endswith("launch 1, started ahead)"), header
    # the order to import ahead reached the process before asr's own order
    imported = AHEAD.findall(asr_log)
    assert len(imported) == 1, asr_log
    assert {"stages.asr.decode", "ctranslate2", "faster_whisper"} <= set(
        imported[0].split(", ")), imported
    assert asr_log.index(header) < asr_log.index("[warm] imported ahead")
    # and it is the process asr and the whisperx stages after it run in (as one started on
    # demand would be), while demux's common process carries on to subtitles
    launches = {key: warm_launch(job_dir, key) for key in ("demux", "asr", "alignment", "songs",
                                                           "subtitles_source")}
    assert launches["asr"][0] == "whisperx" and launches["asr"][2] == 1
    assert launches["alignment"][1] == launches["songs"][1] == launches["asr"][1]
    assert launches["subtitles_source"][1] == launches["demux"][1] != launches["asr"][1]
    assert (job_dir / "subtitles").is_dir() and any((job_dir / "subtitles").iterdir())
