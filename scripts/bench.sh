#!/usr/bin/env bash
# Runs the benchmark suite in release mode and prints its tables.
# Installs what it needs: ripgrep (Debian's, and the newest from crates.io)
# and the Linux kernel source (the corpus of ripgrep's own benchmarks),
# cached outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/codelab-agent"
CORPUS="$CACHE/corpus/linux-source-6.1"
if ! command -v rg >/dev/null 2>&1 || [ ! -f /usr/src/linux-source-6.1.tar.xz ]; then
  apt-get update -qq
  apt-get install -y -qq ripgrep linux-source-6.1 >/dev/null
fi
if [ ! -d "$CORPUS" ]; then
  mkdir -p "$CACHE/corpus"
  tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$CACHE/corpus"
  # Debian's tarball adds a top-level .gitignore of `/*` (for its packaging);
  # without it the tree's own ignore rules apply, as in a kernel checkout.
  rm -f "$CORPUS/.gitignore"
  git -C "$CORPUS" init -q
fi
export CODELAB_BENCH_CORPUS="$CORPUS"
# The newest ripgrep from crates.io next to Debian's (13): the search figures
# compare with both. Cached; `cargo install` skips an up-to-date install.
RG_ROOT="$CACHE/ripgrep"
if [ ! -x "$RG_ROOT/bin/rg" ] || [ -n "${CODELAB_BENCH_UPDATE_RG:-}" ]; then
  cargo install ripgrep --locked --root "$RG_ROOT" --quiet
fi
export CODELAB_BENCH_RG="$RG_ROOT/bin/rg"
# Peers run as whole processes against the mock (section `peers`): the Codex
# CLI and the Cline CLI from npm, pinned, cached. Node.js 20+ is needed.
PEERS="$CACHE/peers"
PEER_PACKAGES="@openai/codex@0.171.0 cline@3.0.65"
if [ "$(cat "$PEERS/.installed" 2>/dev/null)" != "$PEER_PACKAGES" ]; then
  mkdir -p "$PEERS"
  # shellcheck disable=SC2086 # the list is split on purpose
  (cd "$PEERS" && npm install --no-audit --no-fund --loglevel=error $PEER_PACKAGES >&2)
  echo "$PEER_PACKAGES" > "$PEERS/.installed"
fi
export CODELAB_BENCH_PEERS="$PEERS"
cargo build --release -p mock-llm --bins

echo "== in-process (divan)"
cargo bench --bench inprocess
echo
echo "== end to end"
cargo bench --bench suite -- "$@"
