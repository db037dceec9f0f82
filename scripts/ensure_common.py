"""Make sure the common venv exists and matches uv.lock; print its interpreter path.

Run with any Python >= 3.10 by bootstrap.sh, bootstrap.ps1 and the other wrappers, before
any venv exists, so it uses only the standard library. Fast path (venv ready): no uv call.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared import venvs  # noqa: E402
from shared.paths import venv_python  # noqa: E402

VENV = ROOT / ".venvs" / "common"
LOCK = ROOT / "uv.lock"


def main() -> int:
    state, reason = venvs.venv_state(VENV, LOCK)
    if state != "ready":
        sys.stderr.write(f"[setup] common venv: {reason}; building it with uv\n")
        try:
            uv = venvs.ensure_uv(ROOT / ".venvs" / ".tools")
            seconds = venvs.sync_venv(uv, ROOT, VENV, LOCK, sys.executable, quiet=True)
        except RuntimeError as e:
            sys.stderr.write(f"error: {e}\n")
            return 1
        except subprocess.CalledProcessError as e:
            sys.stderr.write(
                f"error: building the common venv failed (exit {e.returncode}).\n"
                "  fix: check network access to PyPI, then re-run ./bootstrap.sh "
                "(an interrupted build is repaired on the next run)\n")
            return 1
        sys.stderr.write(f"[setup] common venv ready in {seconds:.1f}s\n")
    else:  # confirmed against the current uv.lock: let the wrappers take their fast path
        (VENV / venvs.MARKER).touch()
    sys.stdout.write(str(venv_python(VENV)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
