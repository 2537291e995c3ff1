#!/usr/bin/env bash
# Builds the release archives the ACP registry entry (editors/acp/agent.json)
# names: codelab-agent-<version>-<target>.tar.gz (.zip on Windows), each
# holding the codelab-agent binary, with a SHA256SUMS file, in
# target/release-archives/.
#
#   scripts/release.sh                   the host's target
#   scripts/release.sh --target TRIPLE   one target (installs it with rustup;
#                                        a cross linker must be on the machine)
#   scripts/release.sh --names           prints every archive name the
#                                        manifest must name, and builds nothing
#
# .github/workflows/release.yml runs it on a native runner per platform (macOS
# and Windows binaries cannot be built on Linux without their SDKs) and
# uploads the archives to the GitHub release v<version>. On this project's
# Linux x86_64 build machine the script builds x86_64-unknown-linux-gnu
# natively and aarch64-unknown-linux-gnu with Debian's
# gcc-aarch64-linux-gnu.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(
  aarch64-apple-darwin
  x86_64-apple-darwin
  aarch64-unknown-linux-gnu
  x86_64-unknown-linux-gnu
  aarch64-pc-windows-msvc
  x86_64-pc-windows-msvc
)

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

archive_name() {
  case "$1" in
    *-windows-*) echo "codelab-agent-$version-$1.zip" ;;
    *) echo "codelab-agent-$version-$1.tar.gz" ;;
  esac
}

target=""
case "${1:-}" in
  --names)
    for t in "${TARGETS[@]}"; do archive_name "$t"; done
    exit 0
    ;;
  --target)
    target="${2:?--target TRIPLE}"
    ;;
  "")
    target=$(rustc -vV | sed -n 's/^host: //p')
    ;;
  *)
    echo "usage: scripts/release.sh [--target TRIPLE | --names]" >&2
    exit 2
    ;;
esac
if ! printf '%s\n' "${TARGETS[@]}" | grep -qx "$target"; then
  echo "$target is not a release target (${TARGETS[*]})" >&2
  exit 2
fi

rustup target add "$target" >/dev/null 2>&1 || true
case "$target" in
  aarch64-unknown-linux-gnu)
    if [ "$(uname -m)" != aarch64 ]; then
      command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || {
        sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      }
      export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
      export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
    fi
    ;;
esac

# Shipped without debug info and symbols (the release profile keeps line
# tables for profiling): 34 MB instead of 174 MB for x86_64 Linux.
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
  cargo build --release --locked --target "$target" --bin codelab-agent
built="${CARGO_TARGET_DIR:-target}/$target/release"
out=target/release-archives
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
name=$(archive_name "$target")
case "$target" in
  *-windows-*)
    cp "$built/codelab-agent.exe" "$stage/"
    (cd "$stage" && 7z a -tzip "$OLDPWD/$out/$name" codelab-agent.exe >/dev/null 2>&1 \
      || powershell -NoProfile -Command "Compress-Archive -Path codelab-agent.exe -DestinationPath '$OLDPWD/$out/$name' -Force")
    ;;
  *)
    cp "$built/codelab-agent" "$stage/"
    # Reproducible: sorted, owner and times fixed.
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='@0' \
      -C "$stage" -czf "$out/$name" codelab-agent 2>/dev/null \
      || tar -C "$stage" -czf "$out/$name" codelab-agent
    ;;
esac
# One line per archive: a rebuilt archive replaces its line.
(
  cd "$out"
  touch SHA256SUMS
  grep -v "  $name\$" SHA256SUMS >SHA256SUMS.tmp || true
  (sha256sum "$name" 2>/dev/null || shasum -a 256 "$name") >>SHA256SUMS.tmp
  mv SHA256SUMS.tmp SHA256SUMS
)
echo "$out/$name"
