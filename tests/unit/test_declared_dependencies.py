"""Every third-party module a venv imports is a dependency its own project declares.

A package that arrives only as another package's dependency can vanish on the next lock (or
never arrive on another platform), and the stage then fails with ModuleNotFoundError in the
middle of a batch. For each environment in config/environments.toml this follows the imports
of the code that runs in it (shared.stage_main, its stages' contracts, the process and setup
modules their SPECs name, and the shared/ and stages/ modules they import, at module level or
inside functions; not under `if TYPE_CHECKING:`) and checks each third-party import against the
environment's pyproject.toml and uv.lock."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from shared.config_files import load_toml
from shared.env_registry import EnvironmentSpec, load_registry
from shared.stage import load_spec
from tests.helpers import ROOT

PROJECT_PACKAGES = {"shared", "stages", "scripts"}

# Import name -> distribution name where the default (lower case, '_' -> '-') is wrong;
# test_import_names_map_to_the_distributions_that_install_them checks it against
# importlib.metadata.packages_distributions() in every built venv.
DISTRIBUTIONS = {
    "indicnlp": "indic-nlp-library-itt",
    "pyannote": "pyannote-audio",
}

# Code that runs in only some of its stage's environments: chosen by importlib on the
# translation route, or on a branch for one ASR backend. Module -> the environments it runs in.
ONLY_IN = {
    "stages.translation.nllb": {"nllb"},
    "stages.translation.indictrans2": {"indictrans2"},
    "stages.translation.torch_device": {"nllb", "indictrans2"},
    "stages.asr.decode": {"whisperx"},  # the mlx venv runs only its mlx branch (stages.asr.mlx)
    "stages.asr.mlx": {"mlx"},
    "stages.vad.silero": {"whisperx"},  # vad's venv follows its backend
    "stages.vad.pyannote_vad": {"pyannote"},
}


def distribution(import_name: str) -> str:
    return canonical(DISTRIBUTIONS.get(import_name, import_name))


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def module_file(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def imports_of(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(project modules, third-party top-level names) one module imports, anywhere in it."""
    path = module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    project: set[str] = set()
    third_party: set[str] = set()

    def add(name: str) -> None:
        top = name.split(".")[0]
        if top in PROJECT_PACKAGES:
            if module_file(name):
                project.add(name)
        elif top not in sys.stdlib_module_names and top != "__future__":
            third_party.add(top)

    tree = ast.parse(path.read_text("utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for stmt in block.body for n in ast.walk(stmt)}  # never run
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            add(base)
            for alias in node.names:  # from shared import atomic: a module
                if base.split(".")[0] in PROJECT_PACKAGES and module_file(f"{base}.{alias.name}"):
                    project.add(f"{base}.{alias.name}")
    return frozenset(project), frozenset(third_party)


def entry_points(env: EnvironmentSpec) -> list[str]:
    entries = ["scripts.cli"] if env.name == "common" else []
    if env.stages:
        entries.append("shared.stage_main")
    for stage in env.stages:
        spec = load_spec(stage)
        entries.append(f"stages.{stage}")
        entries += [ref.partition(":")[0] for ref in (spec.process, spec.setup) if ref]
    entries += [m for m, envs in ONLY_IN.items()
                if env.name in envs and m.split(".")[1] in env.stages]
    return entries


def third_party_imports(env: EnvironmentSpec) -> dict[str, set[str]]:
    """Third-party top-level name -> the modules that import it, in the code ``env`` runs."""
    seen: set[str] = set()
    todo = entry_points(env)
    found: dict[str, set[str]] = {}
    while todo:
        module = todo.pop()
        if module in seen or env.name not in ONLY_IN.get(module, {env.name}):
            continue
        seen.add(module)
        project, third_party = imports_of(module)
        todo += project
        for name in third_party:
            found.setdefault(name, set()).add(module)
    return found


def declared(env: EnvironmentSpec) -> set[str]:
    """The distributions the environment's pyproject declares that its uv.lock holds."""
    project = load_toml(env.project_dir / "pyproject.toml")
    optional = project.get("dependency-groups", {}).get("cluster", [])  # bootstrap --with
    names = {canonical(re.match(r"[A-Za-z0-9._-]+", dep).group())
             for dep in [*project["project"]["dependencies"], *optional]}
    locked = {canonical(p["name"]) for p in load_toml(env.lock_file).get("package", [])}
    return names & locked


ENVIRONMENTS = list(load_registry().environments.values())


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=[e.name for e in ENVIRONMENTS])
def test_every_third_party_import_is_declared_in_its_environment(env):
    have = declared(env)
    missing = {name: sorted(modules) for name, modules in third_party_imports(env).items()
               if distribution(name) not in have}
    assert not missing, (
        f"{env.project}/pyproject.toml does not declare (or its uv.lock lacks) what the "
        f"{env.name} venv imports: "
        + "; ".join(f"{distribution(n)} (import {n} in {', '.join(m)})"
                    for n, m in sorted(missing.items())))


def test_the_import_walk_sees_lazy_and_dynamic_imports():
    """The walk finds imports inside functions and the engine modules importlib loads."""
    whisperx = third_party_imports(load_registry().get("whisperx"))
    assert "stages.asr.decode" in whisperx["ctranslate2"]  # imported inside _load_model
    nllb = third_party_imports(load_registry().get("nllb"))
    assert "transformers" in nllb and "faster_whisper" not in nllb
    assert "torch" not in third_party_imports(load_registry().get("common"))


def test_import_names_map_to_the_distributions_that_install_them():
    checked = 0
    for env in ENVIRONMENTS:
        python = env.venv_dir / ("Scripts/python.exe" if sys.platform == "win32"
                                 else "bin/python")
        if not python.exists():
            continue
        names = sorted(third_party_imports(env))
        code = ("import json, sys, importlib.metadata as m; d = m.packages_distributions(); "
                "print(json.dumps({n: d.get(n, []) for n in sys.argv[1:]}))")
        proc = subprocess.run([str(python), "-c", code, *names], capture_output=True,
                              text=True, check=True)
        for name, dists in json.loads(proc.stdout).items():
            if dists:  # not installed on this platform (mlx on Linux): nothing to compare
                assert distribution(name) in {canonical(d) for d in dists}, (env.name, name)
                checked += 1
    assert checked, "no venv is built: run ./bootstrap.sh --skip-cache"
