#!/usr/bin/env bash
# Runs the benchmark suite in release mode and prints its tables.
# Installs what it needs: ripgrep and the Linux kernel source (the corpus of
# ripgrep's own benchmarks), cached outside the repository.
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
cargo build --release -p mock-llm --bins

echo "== in-process (divan)"
cargo bench --bench inprocess
echo
echo "== end to end"
cargo bench --bench suite -- "$@"
