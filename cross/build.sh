#!/usr/bin/env bash
# Builds the hotspot for 64-bit and 32-bit ARM Linux from x86-64 Debian, with Debian's compiler
# (see cross/setup.sh), then packages each build (cross/package.sh).
# Usage: cross/build.sh [--profile PROFILE] [--no-package] [aarch64|armv7 ...]   (both by default)
#   PROFILE: release-small (default: the small binaries that go into packages) or cross-ci (the
#   quick build CI runs under qemu). Binaries land in target/<triple>/<profile>/hotspot (under
#   CARGO_TARGET_DIR when set), packages
#   in target/cross/dist/<profile>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# Where cargo puts what it builds (CARGO_TARGET_DIR when set).
target_dir=${CARGO_TARGET_DIR:-$root/target}

profile=release-small
package=true
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?"--profile needs a value"}; shift 2 ;;
    --no-package) package=false; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7)

cross/setup.sh

triple_of() {
  case "$1" in
    aarch64) echo aarch64-unknown-linux-gnu ;;
    armv7) echo armv7-unknown-linux-gnueabihf ;;
    *) echo "cross: unknown target $1 (aarch64 or armv7)" >&2; return 1 ;;
  esac
}
linker_of() {
  case "$1" in
    aarch64) echo aarch64-linux-gnu-gcc ;;
    armv7) echo arm-linux-gnueabihf-gcc ;;
  esac
}

# One cargo run for all targets, so that the build scripts and proc macros (host code) are
# compiled once and both targets build in parallel.
cargo_env=(RUSTC=/usr/bin/rustc)
cargo_targets=()
for arch in "${targets[@]}"; do
  triple=$(triple_of "$arch")
  env_triple=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  cargo_env+=("CARGO_TARGET_${env_triple}_LINKER=$(linker_of "$arch")"
    "CARGO_TARGET_${env_triple}_RUSTFLAGS=--sysroot=$root/target/cross-sysroot")
  cargo_targets+=(--target "$triple")
done
locked=(--locked)
[ "${CROSS_UNLOCKED:-0}" = 1 ] && locked=()

echo "cross: building hotspot ($profile) for ${targets[*]}"
start=$(date +%s)
# Debian's rustc, not rustup's, so that its standard library matches the unpacked ARM ones.
env "${cargo_env[@]}" cargo build "${locked[@]}" --profile "$profile" -p hotspot --bin hotspot \
  "${cargo_targets[@]}"
echo "cross: built in $(($(date +%s) - start)) s"

for arch in "${targets[@]}"; do
  binary="$target_dir/$(triple_of "$arch")/$profile/hotspot"
  echo "cross: $arch $(stat -c %s "$binary") bytes: $binary"
  if $package; then
    cross/package.sh "$arch" "$binary" "$root/target/cross/dist/$profile"
  fi
done
