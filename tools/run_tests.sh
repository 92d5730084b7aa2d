#!/usr/bin/env bash
# Set up (idempotent) and run the test suite; extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
# Test-only system packages: a local one-node Slurm cluster for
# tests/test_launchers.py (needs root and apt; otherwise that test is skipped).
if ! command -v slurmd >/dev/null && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null; then
  echo "[tests] installing slurm-wlm and munge"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq slurm-wlm munge; } >/dev/null \
    || echo "[tests] could not install slurm-wlm/munge"
fi
exec "${E3VA_VENV:-$ROOT/.venv}/bin/python" -m pytest tests "$@"
