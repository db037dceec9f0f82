#!/usr/bin/env bash
# List, download (with network) and verify (offline) the models in .cache/.
# All logic lives in the Python CLI (scripts/cli.py); see ./cache-models.sh --help.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$ROOT/scripts/wrapper.sh"
subpipe_run_cli "$ROOT" cache-models "$@"
