#!/usr/bin/env bash
# Installs the npm packages of one test suite (tests/NAME/package-lock.json:
# `acp` for the official ACP SDK, `acpx` for a third-party ACP client, `mcp`
# for the MCP servers) into a cache
# outside the clone, keyed by the lockfile, and prints the path of their
# node_modules. Cached: a second run with the same lockfile installs nothing.
# Usage: scripts/npm-deps.sh NAME
set -euo pipefail
cd "$(dirname "$0")/.."

name="${1:?usage: npm-deps.sh NAME (a folder of tests/ with a package-lock.json)}"
lock="tests/$name/package-lock.json"
[ -f "$lock" ] || { echo "no $lock" >&2; exit 1; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "Node.js 20+ with npm is required for the $name tests" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "Node.js 20+ is required for the $name tests (found $(node --version))" >&2
  exit 1
fi
key=$(sha256sum "$lock" | cut -c1-16)
root="${CODELAB_NPM_CACHE:-$HOME/.cache/codelab-agent/npm-$name}"
dir="$root/$key"
if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$root"
  tmp=$(mktemp -d "$root/.install.XXXXXX")
  cp "tests/$name/package.json" "$lock" "$tmp/"
  # `npm ci`, or where npm 11 left a package's optional platform packages
  # for other systems out of the lockfile (acpx's @openclaw/fs-safe), so
  # that `npm ci` refuses it as out of sync: `npm install --no-save` from the
  # same lockfile, which still pins every version.
  if ! (cd "$tmp" && { timeout 600 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2 2>/dev/null \
        || timeout 600 npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error >&2; }); then
    rm -rf "$tmp"
    echo "npm ci failed for $lock" >&2
    exit 1
  fi
  touch "$tmp/.complete"
  # Another run may have finished first: keep its copy. A copy left
  # incomplete by an interrupted run is replaced.
  [ -d "$dir" ] && [ ! -f "$dir/.complete" ] && rm -rf "$dir"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  [ -f "$dir/.complete" ] || { echo "cannot install into $dir" >&2; exit 1; }
fi
echo "$dir/node_modules"
