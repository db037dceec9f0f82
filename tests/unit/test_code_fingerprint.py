"""The code fingerprint is built from the imports, not from a hand-kept list: for every
stage, editing any project file its process imports changes the fingerprint."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess

import pytest

from shared.code_fingerprint import PLUMBING, _names_in, code_files, code_hash, imported_names
from shared.paths import venv_python
from shared.stage import load_spec
from tests.helpers import ROOT

STAGES = sorted(p.stem if p.suffix == ".py" else p.name for p in (ROOT / "stages").iterdir()
                if (p.suffix == ".py" and p.stem != "__init__")
                or (p / "__init__.py").is_file())

IMPORTED = """
import json, sys
from shared.stage import load_callable, load_spec
spec = load_spec(sys.argv[1])
load_callable(spec.process)
if spec.setup:
    load_callable(spec.setup)
ours = [n for n, m in sys.modules.items()
        if n.split(".")[0] in ("shared", "stages") and getattr(m, "__file__", None)]
print(json.dumps(sorted(ours)))
"""


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A throwaway copy of the code, to edit."""
    root = tmp_path_factory.mktemp("code")
    for package in ("shared", "stages"):
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    return root


def imported_by_process(stage: str) -> list[str]:
    """The project modules a stage process has imported once its process and setup are
    loaded, in the stage's own venv, as the runner starts it."""
    spec = load_spec(stage)
    python = venv_python(ROOT / ".venvs" / spec.environments[0])
    proc = subprocess.run([str(python), "-c", IMPORTED, stage], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("stage", STAGES)
def test_editing_any_module_the_process_imports_changes_the_fingerprint(stage, copy):
    spec = load_spec(stage)
    imported = [m for m in imported_by_process(stage) if m not in PLUMBING]
    assert f"stages.{stage}" in imported
    fingerprinted = code_files(stage, spec.uses, copy)
    missing = [m for m in imported if m not in fingerprinted]
    assert not missing, f"{stage}: imported but not fingerprinted: {missing}"
    before = code_hash(stage, spec.uses, copy)
    for module in fingerprinted:  # every one, whether imported at the top or in a function
        path = fingerprinted[module]
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        try:
            assert code_hash(stage, spec.uses, copy) != before, (stage, module)
        finally:
            path.write_bytes(original)
    assert code_hash(stage, spec.uses, copy) == before


def test_the_glossary_process_module_is_fingerprinted():
    """It once lived in a file a hand-kept list omitted, so editing it never re-ran."""
    assert "stages.glossary.run" in code_files("glossary")
    assert "stages.glossary.run" in imported_by_process("glossary")


def test_a_new_module_in_the_package_counts_and_plumbing_does_not(copy):
    before = code_hash("mux", (), copy)
    extra = copy / "stages" / "mux" / "extra.py"
    extra.write_text("X = 1\n")
    try:
        assert code_hash("mux", (), copy) != before
    finally:
        extra.unlink()
    atomic = copy / "shared" / "atomic.py"
    original = atomic.read_bytes()
    atomic.write_bytes(original + b"\n# how files are written, not what\n")
    try:
        assert code_hash("mux", (), copy) == before
    finally:
        atomic.write_bytes(original)


def test_reading_only_the_import_lines_finds_what_parsing_the_whole_file_finds():
    """imported_names parses only the lines that start an import (fast); for every project
    file it must find exactly the project imports a parse of the whole file finds."""
    files = [p for folder in ("shared", "stages", "scripts") for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 100
    for path in files:
        expected = _names_in(ast.parse(path.read_bytes()))  # the whole file's parse
        assert imported_names(path) == expected, path
