#!/usr/bin/env bash
# The test command (README, CI): set up what the tests need on a clean machine, then pytest.
#   - system tools: ffmpeg/ffprobe (pipeline), espeak-ng and sox (test audio), chromium and
#     chromedriver (the report's browser tests; skipped, saying why, when missing), a font
#     per Indian script (Debian's fonts-lohit-*: burn-in and the report draw boxes without);
#     bootstrap installs them with apt-get when it can, or prints the command
#   - every applicable venv and the embedded model: ./bootstrap.sh --skip-cache (no model
#     downloads; a no-op in seconds when everything is ready), with Ray (`--with cluster`)
#     for tests/e2e/test_ray_cluster.py and tests/unit/test_executors.py
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
# Two pytest-xdist workers (CI's machine has 2 cores), --dist loadgroup: a module with
# module-scoped fixtures (a job run once for many tests) goes to one worker, other tests are
# dealt one by one; a test marked `alone` (it changes the project's venvs, or starts a Ray
# cluster) runs with nothing beside it (tests/workers.py). A later -n wins:
# `scripts/test.sh -n 0` runs in one process.
# --quick: the lane for iteration: the unit tests and the one end-to-end smoke test (marked
# `smoke`: prepare-job.sh + run-pipeline.sh on jfk.flac); integration and other e2e tests are
# left to the full command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=(tests/unit tests/e2e -m "smoke or not (e2e or integration)")
args=(-n 2 --dist loadgroup)
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then args+=("${QUICK[@]}"); else args+=("$arg"); fi
done
./bootstrap.sh --skip-cache --yes --with cluster
for tool in ffmpeg ffprobe espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (see bootstrap's message above)" >&2; exit 1; }
done
exec "$ROOT/.venvs/common/bin/python" -m pytest "${args[@]}"
