"""Running the suite on several pytest-xdist workers (scripts/test.sh: ``-n 2 --dist
loadgroup``), wired in by tests/conftest.py; with one process nothing here applies.

- A module whose tests share a module-scoped fixture (a job run once for many tests, a tiny
  model, a Ray cluster) goes to one worker as a group, so the fixture is built once and its
  tests keep their order. Other tests are dealt one by one, in collection order, after the
  groups (xdist sends the largest groups first).
- A test marked ``alone`` runs with no other test beside it: it changes what every test
  shares (the project's .venvs, config/hardware_cache.json) or starts a multi-node Ray
  cluster whose timing another test's load would disturb. While a test runs (setup, call
  and teardown, module fixtures included) its worker holds a shared lock on one file of the
  run; an ``alone`` test holds it exclusively. A second file, taken before the first, lets a
  waiting ``alone`` test go next instead of waiting for a moment when the other worker is
  between tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:  # Windows: no flock; run the suite there without -n
    fcntl = None


def module_group(item) -> str | None:
    """The xdist group of ``item``: its module's path when it uses a module-scoped fixture."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else []
    if any(d and d[-1].scope == "module" for d in defs):
        return item.nodeid.split("::")[0]
    return None


def group_modules(config, items) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = module_group(item)
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))


def lock_folder(config) -> Path | None:
    """The folder the workers of one xdist run share (the parent of each worker's basetemp,
    which pytest removes with the run's other temporary folders), or None outside xdist."""
    worker = getattr(config, "workerinput", None)
    if worker is None or fcntl is None or not config.option.basetemp:
        return None
    return Path(config.option.basetemp).parent


@contextlib.contextmanager
def hold(folder: Path | None, alone: bool) -> Iterator[None]:
    """Hold the run's test lock: exclusively when ``alone``, else shared."""
    if folder is None:
        yield
        return
    with open(folder / "tests.gate", "a") as gate, open(folder / "tests.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
