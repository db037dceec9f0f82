"""tests/workers.py: under pytest-xdist a test marked `alone` waits for the test running on
the other worker, and a test that arrives while it waits runs after it, not beside it."""

from __future__ import annotations

import threading
import time

import pytest

from tests import workers

pytestmark = pytest.mark.skipif(workers.fcntl is None, reason="flock: POSIX only")


def gate_is_held(folder) -> bool:
    with open(folder / "tests.gate", "a") as gate:
        try:
            workers.fcntl.flock(gate, workers.fcntl.LOCK_EX | workers.fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        workers.fcntl.flock(gate, workers.fcntl.LOCK_UN)
        return False


def test_an_alone_test_waits_for_the_running_one_and_goes_before_the_next(tmp_path):
    order: list[str] = []
    release = {name: threading.Event() for name in "abc"}
    entered = {name: threading.Event() for name in "abc"}

    def run(name: str, alone: bool) -> None:
        with workers.hold(tmp_path, alone):
            order.append(name)
            entered[name].set()
            assert release[name].wait(30)

    threads = {"a": threading.Thread(target=run, args=("a", False)),
               "b": threading.Thread(target=run, args=("b", True)),
               "c": threading.Thread(target=run, args=("c", False))}
    threads["a"].start()
    assert entered["a"].wait(30)
    threads["b"].start()  # alone: waits for a, holding the gate
    deadline = time.monotonic() + 30
    while not gate_is_held(tmp_path):
        assert time.monotonic() < deadline, "the alone test never took the gate"
        time.sleep(0.01)
    threads["c"].start()  # arrives while b waits: it must not run beside a or b
    assert not entered["b"].is_set() and not entered["c"].is_set()
    release["a"].set()
    assert entered["b"].wait(30)
    assert not entered["c"].is_set()
    release["b"].set()
    assert entered["c"].wait(30)
    release["c"].set()
    for thread in threads.values():
        thread.join(30)
    assert order == ["a", "b", "c"]


def test_outside_xdist_nothing_is_locked(tmp_path):
    class Config:  # what pytest's config holds in a single process: no workerinput
        class option:
            basetemp = str(tmp_path / "base")

    assert workers.lock_folder(Config()) is None
    with workers.hold(None, True), workers.hold(None, True):  # no lock: no wait
        assert not list(tmp_path.iterdir())
