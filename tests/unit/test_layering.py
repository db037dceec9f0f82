"""The layers: scripts/ (the CLI) imports shared/ only; shared/ imports no stage by name (the
runner reaches a stage through its SPEC, shared.stage.load_spec)."""

from __future__ import annotations

import ast

import pytest

from shared.workflows import load_workflows
from tests.helpers import ROOT


def project_imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] in ("scripts", "shared", "stages")}


@pytest.mark.parametrize("layer, allowed", [("scripts", ("shared", "scripts")),
                                            ("shared", ("shared",))])
def test_a_layer_imports_only_the_layers_below_it(layer, allowed):
    wrong = {f"{path.relative_to(ROOT)}: {name}"
             for path in (ROOT / layer).rglob("*.py")
             for name in project_imports(path) if name.split(".")[0] not in allowed}
    assert not wrong, sorted(wrong)


def test_run_checks_overrides_through_shared_not_through_prepare():
    assert "scripts.prepare" not in project_imports(ROOT / "scripts" / "run.py")
    assert "shared.overrides" in project_imports(ROOT / "scripts" / "run.py")


def test_the_llm_step_is_switched_on_by_the_setting_config_names():
    workflows = load_workflows()
    assert workflows.switched_on({"translation": {"engine": "hybrid"}}) == ["llm"]
    assert workflows.switched_on({"translation": {"engine": "llm"}}) == ["llm"]
    assert workflows.switched_on({"translation": {"engine": "nllb"}}) == []
    assert workflows.switched_on({}) == []
