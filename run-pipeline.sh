#!/usr/bin/env bash
# Run prepared jobs stage by stage; re-running resumes and skips what is done.
# All logic lives in the Python CLI (scripts/cli.py); see ./run-pipeline.sh --help.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$ROOT/scripts/wrapper.sh"
subpipe_run_cli "$ROOT" run "$@"
