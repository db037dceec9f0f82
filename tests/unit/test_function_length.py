"""The house rule that keeps the code readable: no function or method in shared/ or stages/
is longer than 60 lines (decorators, signature, docstring and body counted). Split a longer
one into named steps; shared/ARCHITECTURE.md would have to say why an exception exists."""

from __future__ import annotations

import ast

from tests.helpers import ROOT

MAX_LINES = 60
PACKAGES = ("shared", "stages")


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function in ``source`` longer than ``limit``."""
    found: list[tuple[str, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    assert child.end_lineno is not None
                    lines = child.end_lineno - first + 1
                    if lines > limit:
                        found.append((name, lines))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(ast.parse(source), "")
    return found


def test_the_walk_counts_decorators_and_finds_methods_and_nested_functions():
    body = "\n".join(f"        x{i} = {i}" for i in range(57))
    source = (f"class A:\n    @staticmethod\n    def long():\n        'doc'\n{body}\n"
              "    def short():\n        return 1\n"
              f"def outer():\n    def inner():\n{body}\n")
    # A.long: decorator + def + docstring + 57 = 60 lines; outer 59; outer.inner 58
    assert long_functions(source) == []
    assert long_functions(source, limit=59) == [("A.long", 60)]
    assert long_functions(source, limit=57) == [("A.long", 60), ("outer", 59),
                                                ("outer.inner", 58)]


def test_no_function_in_shared_or_stages_is_over_60_lines():
    over = [f"{path.relative_to(ROOT)}: {name} ({lines} lines)"
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            for name, lines in long_functions(path.read_text("utf-8"))]
    assert not over, "functions over 60 lines (split them into named steps):\n" + \
        "\n".join(over)
