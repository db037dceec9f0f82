#!/usr/bin/env bash
# Run prepared jobs stage by stage; re-running resumes and skips what is done.
# All logic lives in the Python CLI (scripts/cli.py); see ./run-pipeline.sh --help.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$ROOT/scripts/wrapper.sh"
# `./run-pipeline.sh node start ...` joins a Ray cluster (scripts/node.py); anything else runs jobs
if [ "${1:-}" = "node" ]; then
  shift
  subpipe_run_cli "$ROOT" node "$@"
fi
subpipe_run_cli "$ROOT" run "$@"
