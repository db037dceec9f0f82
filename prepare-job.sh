#!/usr/bin/env bash
# Validate a request and create out/<job-id>/ for each media file; prints the job id last.
# All logic lives in the Python CLI (scripts/cli.py); see ./prepare-job.sh --help.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$ROOT/scripts/wrapper.sh"
subpipe_run_cli "$ROOT" prepare "$@"
