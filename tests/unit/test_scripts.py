"""The shell entry points stay thin and agree with the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import typer.main

from scripts.cli import app, normalize_argv
from tests.helpers import ROOT

WRAPPERS = {"bootstrap.sh": "bootstrap", "cache-models.sh": "cache-models",
            "prepare-job.sh": "prepare", "run-pipeline.sh": "run"}


def cli_flags(command: str) -> set[str]:
    click_cmd = typer.main.get_command(app).commands[command]
    return {opt for p in click_cmd.params for opt in p.opts if opt.startswith("--")}


def test_every_wrapper_is_executable_and_hands_over_to_its_cli_command():
    for script, command in WRAPPERS.items():
        path = ROOT / script
        assert os.access(path, os.X_OK), f"{script} is not executable"
        text = path.read_text()
        assert f'subpipe_run_cli "$ROOT" {command} "$@"' in text
        assert len([line for line in text.splitlines() if line and not line.startswith("#")]) <= 5


def test_wrapper_help_shows_the_cli_options():
    proc = subprocess.run([str(ROOT / "bootstrap.sh"), "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for flag in cli_flags("bootstrap"):
        assert flag in proc.stdout


def test_powershell_bootstrap_offers_the_same_options_and_calls_the_same_cli():
    ps1 = (ROOT / "bootstrap.ps1").read_text()
    emitted = set(re.findall(r'"(--[a-z-]+)"', ps1))
    assert emitted == cli_flags("bootstrap") - {"--help"}
    declared = re.findall(r"\[(?:switch|string(?:\[\])?)\]\$(\w+)", ps1)
    assert len(declared) == len(emitted), "one PowerShell parameter per CLI option"
    sh = (ROOT / "bootstrap.sh").read_text() + (ROOT / "scripts" / "wrapper.sh").read_text()
    for needle in ("scripts/ensure_common.py", "-m scripts.cli", "SUBPIPE_PROG"):
        assert needle in sh and needle in ps1
    assert '@("bootstrap")' in ps1


def test_force_without_a_stage_means_every_stage():
    assert normalize_argv(["run", "-j", "x", "--force"]) == ["run", "-j", "x", "--force=*"]
    assert normalize_argv(["run", "--force", "--dry-run"]) == ["run", "--force=*", "--dry-run"]
    assert normalize_argv(["run", "--force", "asr"]) == ["run", "--force", "asr"]
    assert normalize_argv(["bootstrap", "--force"]) == ["bootstrap", "--force"]


def test_each_scripts_help_names_the_script_and_shows_examples_that_parse():
    group = typer.main.get_command(app)
    for script, command in WRAPPERS.items():
        proc = subprocess.run([f"./{script}", "--help"], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        lines = [line.strip() for line in proc.stdout.splitlines()]
        assert f"Usage: ./{script} [OPTIONS]" in lines, proc.stdout
        assert "scripts.cli" not in proc.stdout
        examples = [line.split("#")[0].split() for line in lines[lines.index("Examples:"):]
                    if line.startswith(f"./{script}")]
        assert len(examples) >= 2, proc.stdout
        for example in examples:  # each one is accepted by the command it shows
            group.commands[command].make_context(script, normalize_argv(
                [command, *example[1:]])[1:])


def test_a_usage_error_names_the_script_the_user_typed():
    proc = subprocess.run([str(ROOT / "prepare-job.sh"), "--no-such-option"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"Usage: {ROOT / 'prepare-job.sh'} [OPTIONS]" in proc.stderr
    assert "No such option: --no-such-option" in proc.stderr


@pytest.mark.alone  # scripts/test.sh bootstraps the project first
def test_quick_lane_collects_the_unit_tests_and_the_one_smoke_test():
    def collected(*args: str) -> set[str]:
        proc = subprocess.run([*args, "--collect-only", "-q"], capture_output=True, text=True,
                              timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return {line for line in proc.stdout.splitlines() if "::" in line}

    quick = collected(str(ROOT / "scripts" / "test.sh"), "--quick")
    unit = collected(sys.executable, "-m", "pytest", "tests/unit")
    smoke = quick - unit
    assert unit <= quick and smoke == {
        "tests/e2e/test_transcribe.py::test_jfk_transcribe_then_rerun_skips_everything"}
