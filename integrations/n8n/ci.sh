#!/usr/bin/env bash
# CI for the n8n integration: npm ci, build, lint, unit tests, the real n8n
# (installed once into a cache outside the repository), and the end-to-end
# run against the gateway + sandbox. Each step prints what it cost.
#
#   N8N_CACHE_DIR   where the n8n install is cached (default $HOME/.cache/nemo-gateway/n8n)
#   PYTHON          the repository's Python with the gateway installed (default <repo>/.venv/bin/python)
#   SKIP_E2E=1      stop after the unit tests (no n8n install, no end-to-end)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
cd "$here"

phase() {  # phase NAME COMMAND...: run a step and print how long it took
  local name=$1; shift
  local start=$SECONDS
  echo "::: n8n: ${name} (started $(date -u +%H:%M:%S))"
  "$@"
  echo "::: n8n: ${name} took $((SECONDS - start)) s"
}

install_n8n() {
  local out
  out=$(bash e2e/install-n8n.sh)
  n8n_dir=$(tail -n 1 <<<"$out")
  echo "n8n install: $n8n_dir"
}

command -v node >/dev/null || { echo "node (>= 20.15) is required" >&2; exit 1; }
[[ -x "$python" ]] || { echo "no Python at $python: run 'make setup' at the repository root first" >&2; exit 1; }
echo "node $(node --version), npm $(npm --version)"

phase "npm ci" npm ci --no-audit --no-fund --loglevel=error
phase "build (tsc)" npm run --silent build
phase "lint (eslint, n8n community rules)" npm run --silent lint -- --max-warnings=0
phase "unit tests (node --test)" npm test --silent
if [[ "${SKIP_E2E:-}" == 1 ]]; then
  echo "::: n8n: SKIP_E2E=1, no end-to-end"
else
  n8n_dir=
  phase "n8n 1.123 install (cached in ${N8N_CACHE_DIR:-$HOME/.cache/nemo-gateway/n8n})" install_n8n
  phase "end-to-end in a real n8n" "$python" e2e/run_e2e.py --n8n-dir "$n8n_dir"
fi
echo "::: n8n: total $SECONDS s"
