"""The EnvironmentManager: the only place that decides how a stage process starts.

It picks the stage's venv from hardware_cache.json and the environment registry, builds the
child environment from a minimal base (never the whole parent environment), points every
model cache at the project's .cache/, turns the hubs offline for pipeline runs, streams the
child's output into a log, enforces a timeout, and turns a missing venv into an error that
names the command that fixes it.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared import venvs
from shared.env_registry import EnvironmentRegistry, load_registry
from shared.errors import EnvironmentMissingError
from shared.hardware_cache import HardwareCache
from shared.paths import PROJECT_ROOT, venv_python
from shared.stage import PROGRESS_PREFIX

logger = logging.getLogger(__name__)

# Variables copied from the parent when set: what a process needs to run at all, locale,
# temp dirs, GPU selection. Everything else (a user's PYTHONPATH, HF_TOKEN, stray caches)
# stays out unless an environment lists it under `passthrough` in the registry.
BASE_VARIABLES = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
    "TMPDIR", "TEMP", "TMP", "TERM",
    "SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "COMSPEC", "PATHEXT", "USERPROFILE", "APPDATA",
    "LOCALAPPDATA", "PROGRAMDATA",
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH",
    "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
)

TAIL_LINES = 40


@dataclass
class RunResult:
    env: str
    argv: list[str]
    returncode: int
    duration_s: float
    log_paths: list[Path] = field(default_factory=list)
    timed_out: bool = False
    tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class EnvironmentManager:
    def __init__(self, hardware: HardwareCache, registry: EnvironmentRegistry | None = None,
                 project_root: Path = PROJECT_ROOT) -> None:
        self.hardware = hardware
        self.registry = registry or load_registry()
        self.project_root = project_root

    # -- which interpreter -------------------------------------------------------------
    def venv_dir(self, env: str) -> Path:
        entry = self.hardware.environments.get(env)
        return entry.path if entry else self.registry.get(env).venv_dir

    def check_ready(self, env: str) -> Path:
        """The env's interpreter; raise naming `./bootstrap.sh --envs <env>` if unusable."""
        spec = self.registry.get(env)
        ok, reason = spec.applies_here(self.hardware.platform)
        if not ok:
            raise EnvironmentMissingError(
                f"environment '{env}' is not available on this machine: {reason}",
                fix="choose another backend for this stage (see README: environments)")
        venv_dir = self.venv_dir(env)
        state, why = venvs.venv_state(venv_dir, spec.lock_file)
        if state != "ready":
            raise EnvironmentMissingError(f"environment '{env}' is not usable: {why}",
                                          fix=f"./bootstrap.sh --envs {env}")
        return venv_python(venv_dir)

    # -- what it sees ------------------------------------------------------------------
    def build_env(self, env: str, *, offline: bool = True,
                  extra: dict[str, str] | None = None) -> dict[str, str]:
        """The complete environment of a child process in ``env``."""
        spec = self.registry.get(env)
        child = {k: os.environ[k] for k in BASE_VARIABLES if k in os.environ}
        child.update({k: os.environ[k] for k in spec.passthrough if k in os.environ})
        # the registry's variables; one the caller's environment sets wins (a user tuning
        # glibc malloc; bench/asr_memory.py --malloc comparing settings)
        child.update({k: os.environ.get(k, v) for k, v in spec.variables.items()})
        cache = self.hardware.cache
        venv_dir = self.venv_dir(env)
        bin_dir = venv_python(venv_dir).parent
        child.update({
            "TORCH_HOME": str(cache.torch_home),
            "HF_HOME": str(cache.hf_home),
            "HF_HUB_CACHE": str(cache.hf_hub_cache),
            "TRANSFORMERS_CACHE": str(cache.hf_hub_cache),  # transformers < 4.36 reads this
            "MLX_CACHE_DIR": str(cache.mlx_home),
            "PYTHONPATH": str(self.project_root),
            "PYTHONUNBUFFERED": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONIOENCODING": "utf-8",
            "TOKENIZERS_PARALLELISM": "false",
            "PYANNOTE_METRICS_ENABLED": "false",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1",
            "VIRTUAL_ENV": str(venv_dir),
            "PATH": os.pathsep.join([str(bin_dir), child.get("PATH", os.defpath)]),
        })
        if offline:
            child.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                          "HF_DATASETS_OFFLINE": "1"})
        if extra:
            child.update(extra)
        return child

    # -- running -----------------------------------------------------------------------
    def run_in_environment(
        self, env: str, argv: Sequence[str], *, log_paths: Sequence[Path] = (),
        timeout: float | None = None, offline: bool = True,
        extra_env: dict[str, str] | None = None, cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> RunResult:
        """Run ``python <argv>`` in ``env``; stream its output into every file of ``log_paths``
        (appending) and to ``on_line``. Lines starting with PROGRESS_PREFIX go to ``on_line``
        only. Raises EnvironmentMissingError if the venv is not usable."""
        python = self.check_ready(env)
        cmd = [str(python), *argv]
        child_env = self.build_env(env, offline=offline, extra=extra_env)
        logger.debug("run in %s: %s", env, " ".join(cmd))
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        started = time.monotonic()
        log_handles = open_logs(log_paths, f"$ [{env}] {' '.join(cmd)}")
        proc = self.start(cmd, child_env, cwd, stdin=subprocess.DEVNULL)
        reader = threading.Thread(target=self._pump, args=(proc, log_handles, tail, on_line),
                                  daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill(proc)
        except BaseException:  # Ctrl-C: take the child down with us, then re-raise
            self._kill(proc)
            raise
        finally:
            reader.join(timeout=10)
            for handle in log_handles:
                if timed_out:
                    handle.write(f"[environment-manager] killed after {timeout:.0f}s timeout\n")
                handle.close()
        return RunResult(env=env, argv=list(argv), returncode=proc.returncode,
                         duration_s=time.monotonic() - started, log_paths=list(log_paths),
                         timed_out=timed_out, tail=list(tail))

    @staticmethod
    def _pump(proc: subprocess.Popen, log_handles: list, tail: collections.deque,
              on_line: Callable[[str], None] | None) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            deliver(raw.rstrip("\n"), log_handles, tail, on_line)

    def start(self, cmd: Sequence[str], child_env: dict[str, str], cwd: Path | None = None,
              stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
        """A child in its own process group (so a timeout takes its children down too), its
        stdout and stderr merged into one text pipe."""
        popen_kwargs: dict = {}
        if os.name == "nt":
            popen_kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            popen_kwargs["start_new_session"] = True
        return subprocess.Popen(
            list(cmd), env=child_env, cwd=str(cwd or self.project_root), stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
            errors="replace", bufsize=1, **popen_kwargs)

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        kill(proc)


def kill(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and its process group: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "nt":
            proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError, OSError):
        if os.name == "nt":
            proc.kill()
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


def open_logs(log_paths: Sequence[Path], header: str) -> list:
    """Each log opened for appending, ``header`` (the command) written first."""
    handles = []
    for path in log_paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - the caller closes it
        handle.write(header + "\n")
        handle.flush()
        handles.append(handle)
    return handles


def deliver(line: str, log_handles: list, tail: collections.deque,
            on_line: Callable[[str], None] | None) -> None:
    """One output line of a stage process: to ``on_line``, and unless it is a progress line,
    to the tail kept for error messages and to every log."""
    if on_line is not None:
        try:
            on_line(line)
        except Exception:  # a display problem must never kill the run
            logger.debug("on_line callback failed", exc_info=True)
    if line.startswith(PROGRESS_PREFIX):
        return
    tail.append(line)
    for handle in log_handles:
        handle.write(line + "\n")
        handle.flush()


def stage_argv(stage: str, job_dirs: Sequence[Path], key: str | None = None) -> list[str]:
    """`-m shared.stage_main stages.<stage> --job <dir> [--job <dir> ...] [--key <instance>]`."""
    argv = ["-m", "shared.stage_main", f"stages.{stage}"]
    for job_dir in job_dirs:
        argv += ["--job", str(job_dir)]
    if key and key != stage:
        argv += ["--key", key]
    return argv
