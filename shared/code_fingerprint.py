"""The code a stage's outputs depend on, found by construction (no hand-kept list).

A stage's code is every module of its package (``stages/<name>/*.py``, or the single
``stages/<name>.py``), the modules its SPEC ``uses`` by name, and every project module
(``shared.*``, ``stages.*``) those import, transitively: each ``import`` / ``from ... import``
statement anywhere in the file counts, including those inside functions. The plumbing that
only carries files between runner and stage (``PLUMBING``) is left out, so editing an error
message or the atomic writer does not re-run every job.

Files are read from a project root given by the caller, so a test can edit a temporary copy.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from shared.paths import PROJECT_ROOT

PROJECT_PACKAGES = ("shared", "stages")
# the contract and the process plumbing: they shape how a stage is run, not what it writes
PLUMBING = frozenset({"shared.stage", "shared.stage_main", "shared.errors", "shared.atomic"})


def module_file(name: str, root: Path) -> Path | None:
    """``shared.media`` -> root/shared/media.py (or its package's __init__.py); None if the
    name is not a project module."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


# source -> the project modules it imports: a run fingerprints every stage, and the stages'
# closures share most of shared/, so each distinct source is parsed once per process
_IMPORTS: dict[bytes, frozenset[str]] = {}


def imported_names(path: Path) -> set[str]:
    """The project modules one file imports (every import statement, at any depth)."""
    source = path.read_bytes()
    if source not in _IMPORTS:
        _IMPORTS[source] = frozenset(_parse_imports(source, path))
    return set(_IMPORTS[source])


def _parse_imports(source: bytes, path: Path) -> set[str]:
    """Only the import statements are parsed (the lines that start with ``import`` or
    ``from``, with their bracketed continuation): a few percent of the file. A line that
    does not parse alone is prose (a docstring's "from the film's names"), skipped;
    tests/unit/test_code_fingerprint.py checks this finds what parsing the whole file finds,
    for every project file."""
    names: set[str] = set()
    for statement in _import_lines(source):
        try:
            names |= _names_in(ast.parse(statement, filename=str(path)))
        except SyntaxError:
            continue
    return names


def _import_lines(source: bytes) -> list[str]:
    lines = source.decode("utf-8", "replace").splitlines()
    statements: list[str] = []
    n = 0
    while n < len(lines):
        statement = lines[n].strip()
        if statement.startswith(("import ", "from ")):
            while (statement.count("(") > statement.count(")") or statement.endswith("\\")
                   ) and n + 1 < len(lines):
                n += 1
                statement += "\n" + lines[n]
            statements.append(statement)
        n += 1
    return statements


def _names_in(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from shared import media` imports the module shared.media
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in PROJECT_PACKAGES}


def stage_modules(stage: str, uses: tuple[str, ...] = (), root: Path = PROJECT_ROOT
                  ) -> list[str]:
    """The stage's own modules and ``uses``: where the import closure starts."""
    package = root / "stages" / stage
    if package.is_dir():
        own = [f"stages.{stage}.{p.stem}" if p.stem != "__init__" else f"stages.{stage}"
               for p in sorted(package.glob("*.py"))]
    else:
        own = [f"stages.{stage}"]
    return own + list(uses)


def code_files(stage: str, uses: tuple[str, ...] = (), root: Path = PROJECT_ROOT
               ) -> dict[str, Path]:
    """module name -> file, for every module whose source shapes the stage's outputs."""
    found: dict[str, Path] = {}
    pending = stage_modules(stage, uses, root)
    while pending:
        name = pending.pop()
        if name in found or name in PLUMBING:
            continue
        path = module_file(name, root)
        if path is None:
            if name in uses:
                raise ValueError(f"SPEC.uses names {name}, which is not a project module")
            continue  # `from shared import CONSTANT`: not a module
        found[name] = path
        pending.extend(imported_names(path))
        parent = name.rpartition(".")[0]
        if parent:
            pending.append(parent)  # importing a package's module runs its __init__
    return dict(sorted(found.items()))


def code_hash(stage: str, uses: tuple[str, ...] = (), root: Path = PROJECT_ROOT) -> str:
    """sha256 over each module's name and source: editing, adding or dropping one changes
    it."""
    digest = hashlib.sha256()
    for name, path in code_files(stage, uses, root).items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
