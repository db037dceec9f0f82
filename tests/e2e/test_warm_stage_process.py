"""Consecutive stages of one venv run in one warm stage process (shared/stage_worker.py), yet
each keeps its own log, result.json and lock.json entry, and a stage that fails after others
ran in the same process loses nothing of theirs: the re-run skips them and runs only it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import lock, prepare, run_pipeline, stage_dir, stages_ran, stages_skipped

pytestmark = pytest.mark.e2e

GOOD_GLOSSARY = "Americans\tAmericans\t\tthe speech's audience\tjob\n"
WARM = re.compile(r"^\$ \[(\w+)\] .* \(warm stage process (\d+), launch (\d+)\)$", re.M)


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
