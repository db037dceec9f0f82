#!/usr/bin/env bash
# Once per machine: hardware probe, per-stage virtualenvs, cache folders, embedded model.
# All logic lives in the Python CLI (scripts/cli.py); see ./bootstrap.sh --help.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$ROOT/scripts/wrapper.sh"
subpipe_run_cli "$ROOT" bootstrap "$@"
