"""shared/ARCHITECTURE.md's "Adding a stage" recipe works as written: its code blocks, put
where the steps say in a temporary copy of the project, make a stage that prepare-job.sh and
run-pipeline.sh run, skip when done, and re-run when its code changes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.e2e

PROJECT_FILES = ("shared", "stages", "scripts", "config", "prepare-job.sh", "run-pipeline.sh",
                 "pyproject.toml", "uv.lock")


def recipe_blocks() -> list[tuple[str, str]]:
    """(language, code) of each fenced block of the "Adding a stage" section, in order."""
    text = (ROOT / "shared" / "ARCHITECTURE.md").read_text("utf-8")
    section = text.split("## Adding a stage", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def copy_project(root: Path) -> None:
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns(
                "__pycache__", "hardware_cache.json"))
        else:
            shutil.copy2(source, root / name)
    (root / ".venvs").symlink_to(ROOT / ".venvs", target_is_directory=True)


def follow_recipe(root: Path) -> None:
    (python_init, python_run, toml_workflow) = recipe_blocks()
    assert [python_init[0], python_run[0], toml_workflow[0]] == ["python", "python", "toml"]
    package = root / "stages" / "audio_stats"
    package.mkdir()
    (package / "__init__.py").write_text(python_init[1], "utf-8")  # step 1
    (package / "run.py").write_text(python_run[1], "utf-8")  # step 2
    environments = root / "config" / "environments.toml"  # step 3
    text = environments.read_text("utf-8")
    listed = re.search(r"\[environments\.common\].*?\nstages = \[", text, flags=re.S)
    environments.write_text(text[:listed.end()] + '"audio_stats", ' + text[listed.end():])
    workflows = root / "config" / "workflows.toml"  # step 4
    workflows.write_text(workflows.read_text("utf-8") + "\n" + toml_workflow[1], "utf-8")


def hardware_cache_for(root: Path, test_cache_file: Path, target: Path) -> Path:
    """The test cache's hardware_cache.json, written for the copy (its root and venvs)."""
    text = test_cache_file.read_text("utf-8").replace(str(ROOT), str(root))
    target.write_text(text, "utf-8")
    return target


def script(root: Path, name: str, *args: str, env: dict[str, str]
           ) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / name), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600, cwd=str(root))


def test_a_stage_added_by_the_recipe_runs_skips_and_reruns_on_a_code_change(
        test_cache, speech, tmp_path):
    from shared.paths import HARDWARE_CACHE_ENV

    root = tmp_path / "project"
    copy_project(root)
    follow_recipe(root)
    env = {HARDWARE_CACHE_ENV: str(hardware_cache_for(
        root, Path(os.environ[HARDWARE_CACHE_ENV]), tmp_path / "hw.json"))}
    out = tmp_path / "out"
    proc = script(root, "prepare-job.sh", "--media", str(speech / "jfk.flac"), "--workflow",
                  "stats", "-s", "en", "--out", str(out), env=env)  # step 6
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip().splitlines()[-1]
    proc = script(root, "run-pipeline.sh", "-j", job_id, "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job_dir = out / job_id
    stage_dir = next((job_dir / "stages").glob("*_audio_stats"))
    stats = json.loads((stage_dir / "stats.json").read_text("utf-8"))
    with wave.open(str(next((job_dir / "stages").glob("*_demux")) / "audio_16k.wav")) as audio:
        assert stats["duration_s"] == round(audio.getnframes() / audio.getframerate(), 3)
    assert 10.5 < stats["duration_s"] < 11.5 and 1000 < stats["peak"] <= 32768
    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    assert job["environments"] == {"demux": "common", "audio_stats": "common"}

    proc = script(root, "run-pipeline.sh", "-j", job_id, "--out", str(out), env=env)
    assert proc.returncode == 0 and re.search(r"audio_stats\s+skip", proc.stdout + proc.stderr)
    run_py = root / "stages" / "audio_stats" / "run.py"
    run_py.write_text(run_py.read_text("utf-8") + "\n# a comment is a change\n", "utf-8")
    proc = script(root, "run-pipeline.sh", "-j", job_id, "--out", str(out), "--dry-run",
                  env=env)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"audio_stats\s+run.*stage code changed", proc.stdout + proc.stderr)
