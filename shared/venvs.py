"""Build and check the per-environment virtualenvs with uv. Standard library only: the
bootstrap helper imports it with the system Python before any venv exists.

A venv is *ready* when its interpreter exists and its marker file records the sha256 of the
uv.lock it was synced from; the marker is written last, so an interrupted build is never
mistaken for a finished one and the next bootstrap repairs it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from shared.file_hashes import sha256_file
from shared.paths import venv_python

logger = logging.getLogger(__name__)

MARKER = ".subpipe-env.json"
UV_VERSION = "0.13.9"


def lock_sha256(lock_file: Path) -> str:
    """The uv.lock's sha256: a venv's marker and every stage fingerprint hold it."""
    return sha256_file(Path(lock_file))


def read_marker(venv_dir: Path) -> dict | None:
    try:
        return json.loads((venv_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def venv_state(venv_dir: Path, lock_file: Path) -> tuple[str, str]:
    """('ready' | 'missing' | 'incomplete' | 'stale', human reason)."""
    if not venv_python(venv_dir).exists():
        if venv_dir.exists():
            return "incomplete", f"{venv_dir} has no interpreter (interrupted or broken build)"
        return "missing", f"{venv_dir} does not exist"
    marker = read_marker(venv_dir)
    if marker is None:
        return "incomplete", f"{venv_dir} was never finished (no {MARKER})"
    if marker.get("lock_sha256") != lock_sha256(lock_file):
        return "stale", f"{lock_file.name} changed since {venv_dir.name} was built"
    return "ready", "up to date"


def find_uv(tools_dir: Path) -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    local = tools_dir / ("Scripts/uv.exe" if os.name == "nt" else "bin/uv")
    return str(local) if local.exists() else None


def ensure_uv(tools_dir: Path, python: str = sys.executable) -> str:
    """uv from PATH, or installed with pip into a small tools venv. Raises RuntimeError."""
    found = find_uv(tools_dir)
    if found:
        return found
    logger.info("uv not found: installing uv %s into %s", UV_VERSION, tools_dir)
    try:
        subprocess.run([python, "-m", "venv", str(tools_dir)], check=True)
        pip = venv_python(tools_dir)
        subprocess.run([str(pip), "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}"],
                       check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(
            f"uv is not installed and could not be installed with pip ({e}). Install it with "
            f"`{python} -m pip install uv=={UV_VERSION}` (needs access to PyPI) or see "
            "https://docs.astral.sh/uv/getting-started/installation/, then re-run."
        ) from e
    found = find_uv(tools_dir)
    if not found:
        raise RuntimeError(f"pip installed uv but no uv binary appeared in {tools_dir}")
    return found


def installed_groups(venv_dir: Path) -> list[str]:
    """The optional dependency groups (`bootstrap --with`) the venv was built with."""
    return list((read_marker(venv_dir) or {}).get("groups", []))


def sync_venv(uv: str, project_dir: Path, venv_dir: Path, lock_file: Path, python: str,
              *, reinstall: bool = False, quiet: bool = False,
              groups: list[str] | None = None) -> float:
    """Create or update ``venv_dir`` to exactly the locked packages (plus the optional
    dependency ``groups``; None: the groups it already has); write the marker last.
    Returns the seconds it took. Raises subprocess.CalledProcessError on failure."""
    started = time.monotonic()
    groups = installed_groups(venv_dir) if groups is None else sorted(set(groups))
    marker = venv_dir / MARKER
    if marker.exists():
        marker.unlink()  # from here on the venv is "incomplete" until sync succeeds
    if venv_dir.exists() and not venv_python(venv_dir).exists():
        shutil.rmtree(venv_dir)  # a broken leftover: start clean
    env = dict(os.environ)
    env.update({
        "UV_PROJECT_ENVIRONMENT": str(venv_dir),
        "UV_COMPILE_BYTECODE": "1",  # without .pyc files imports are ~3x slower
        "UV_PYTHON_DOWNLOADS": "never",
        "VIRTUAL_ENV": "",
    })
    cmd = [uv, "sync", "--frozen", "--no-install-project", "--project", str(project_dir),
           "--python", python]
    for group in groups:
        cmd += ["--group", group]
    if reinstall:
        cmd.append("--reinstall")
    if quiet:
        cmd.append("--quiet")
    subprocess.run(cmd, check=True, env=env)
    data = {"lock_sha256": lock_sha256(lock_file), "python": python, "groups": groups,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = venv_dir / (MARKER + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, marker)
    return time.monotonic() - started
