# Shared by the four user-facing shell scripts: find a Python 3.10-3.13, make sure the common
# venv exists (scripts/ensure_common.py, standard library only), then run the typer CLI in it.
# Sourced, not executed. Set SUBPIPE_PYTHON to choose the interpreter.

subpipe_find_python() {
  local cand
  for cand in "${SUBPIPE_PYTHON:-}" python3.11 python3.12 python3.13 python3.10 python3 python; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' \
        >/dev/null 2>&1; then
      command -v "$cand"
      return 0
    fi
  done
  echo "error: no Python 3.10-3.13 found on PATH" >&2
  echo "  fix: install Python 3.11 (Debian/Ubuntu: sudo apt-get install python3 python3-venv;" \
       "macOS: brew install python@3.11; Windows: winget install Python.Python.3.11)," \
       "or set SUBPIPE_PYTHON=/path/to/python3" >&2
  return 1
}

subpipe_run_cli() {
  local root="$1"; shift
  local py common marker="$root/.venvs/common/.subpipe-env.json"
  export SUBPIPE_PROG="$0"  # the script as the user typed it: --help and usage errors name it
  common="$root/.venvs/common/bin/python"
  # Fast path: the common venv was confirmed against uv.lock after uv.lock last changed.
  if [ -x "$common" ] && [ -f "$marker" ] && [ "$marker" -nt "$root/uv.lock" ]; then
    PYTHONPATH="$root" exec "$common" -m scripts.cli "$@"
  fi
  py="$(subpipe_find_python)" || exit 2
  common="$("$py" "$root/scripts/ensure_common.py")" || exit 1
  PYTHONPATH="$root" exec "$common" -m scripts.cli "$@"
}
