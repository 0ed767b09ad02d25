#!/usr/bin/env bash
# Installs the pinned n8n (e2e/runtime/package.json + its lock) into a cache
# folder OUTSIDE the repository, keyed by the pinned version and the lock's
# checksum, so later runs reuse it. Prints the install folder as its last line.
#
#   N8N_CACHE_DIR  cache root (default: $HOME/.cache/nemo-gateway/n8n)
#
# What it takes offline (only the npm registry reachable), see
# /work/shared/integrations-notes.md: --legacy-peer-deps --ignore-scripts,
# overrides for xlsx (0.18.5 from the registry; n8n's own points at a CDN) and
# @langchain/langgraph-checkpoint (1.0.1), then sqlite3 built from its bundled
# source with node-gyp.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runtime="$here/runtime"
version=$(node -p "require('$runtime/package.json').dependencies.n8n")
sum=$(cat "$runtime"/package*.json | cksum | cut -d' ' -f1)
root=${N8N_CACHE_DIR:-$HOME/.cache/nemo-gateway/n8n}
dest="$root/n8n-$version-$sum"

if [[ -f "$dest/.ready" ]]; then
  echo "n8n $version: cached in $dest" >&2
  echo "$dest"
  exit 0
fi

mkdir -p "$root"
work=$(mktemp -d "$root/.partial-XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$runtime/package.json" "$work/"
flags=(--legacy-peer-deps --ignore-scripts --no-audit --no-fund --loglevel=warn)
# The lock pins the tree that was tested. `npm install` rather than `npm ci`:
# the lock written with --legacy-peer-deps leaves out some optional
# platform packages (msgpackr-extract-*), which `npm ci` refuses.
cp "$runtime/package-lock.json" "$work/"
(cd "$work" && npm install "${flags[@]}") >&2

# sqlite3's prebuilt binary is downloaded by its install script from GitHub;
# build it from the bundled SQLite source instead.
gyp=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js
nodedir=/usr
[[ -f "$nodedir/include/node/node.h" ]] || nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
for d in "$work"/node_modules/sqlite3 "$work"/node_modules/n8n/node_modules/sqlite3; do
  [[ -d "$d" ]] || continue
  (cd "$d" && node "$gyp" rebuild --nodedir="$nodedir" -j "$(nproc)") >"$work/sqlite3-build.log" 2>&1 \
    || { tail -40 "$work/sqlite3-build.log" >&2; exit 1; }
done

"$work/node_modules/.bin/n8n" --version >&2
rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
touch "$dest/.ready"
echo "n8n $version: installed in $dest ($(du -sh "$dest" | cut -f1))" >&2
echo "$dest"
