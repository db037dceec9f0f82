"""Every command the README shows parses with the real CLI, and every flag it shows is used
by some test (the tests exercise what the documentation promises)."""

from __future__ import annotations

import re
import shlex

import typer.main

from scripts.cli import app, normalize_argv
from tests.helpers import ROOT

SCRIPTS = {"./bootstrap.sh": "bootstrap", "./cache-models.sh": "cache-models",
           "./prepare-job.sh": "prepare", "./run-pipeline.sh": "run"}


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            match = re.search(r"(\./[\w-]+\.sh.*?)(\)$|$)", line)
            if match and match.group(1).split()[0] in SCRIPTS:
                commands.append(shlex.split(match.group(1).replace("<job-id>", "JOB"),
                                            comments=True))
    return commands


def test_readme_shows_every_user_facing_script():
    shown = {cmd[0] for cmd in readme_commands()}
    assert shown == set(SCRIPTS)


def test_every_readme_command_parses_with_the_cli():
    group = typer.main.get_command(app)
    for cmd in readme_commands():
        sub = SCRIPTS[cmd[0]]
        args = normalize_argv([sub, *cmd[1:]])[1:]
        command = group.commands[sub]
        if sub == "run" and args[:1] == ["node"]:  # run-pipeline.sh node start ...
            command, args = group.commands["node"].commands[args[1]], args[2:]
        try:
            command.make_context(sub, list(args))
        except Exception as e:  # typer vendors click: match its usage errors by name
            if type(e).__name__ != "Exit":
                raise AssertionError(f"README command does not parse: {' '.join(cmd)}: {e}") from e


def test_every_flag_the_readme_shows_is_exercised_by_a_test():
    flags = {arg.split("=")[0] for cmd in readme_commands() for arg in cmd[1:]
             if arg.startswith("-")}
    tests_text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py")
                           if p.name != "test_readme.py")
    unexercised = sorted(f for f in flags if f'"{f}"' not in tests_text)
    assert not unexercised, f"README flags no test uses: {unexercised}"
