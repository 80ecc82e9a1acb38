#!/usr/bin/env bash
# Builds the hotspot for 64-bit and 32-bit ARM Linux from x86-64 Debian, with Debian's compiler
# (see cross/setup.sh), then packages each build (cross/package.sh).
# Usage: cross/build.sh [aarch64|armv7 ...]   (both by default)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cross/setup.sh

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7)

for arch in "${targets[@]}"; do
  case "$arch" in
    aarch64) triple=aarch64-unknown-linux-gnu; linker=aarch64-linux-gnu-gcc ;;
    armv7) triple=armv7-unknown-linux-gnueabihf; linker=arm-linux-gnueabihf-gcc ;;
    *) echo "cross: unknown target $arch (aarch64 or armv7)" >&2; exit 1 ;;
  esac
  env_triple=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  echo "cross: building hotspot for $triple"
  # Debian's rustc, not rustup's, so that its standard library matches the unpacked ARM ones.
  env RUSTC=/usr/bin/rustc \
    "CARGO_TARGET_${env_triple}_LINKER=$linker" \
    "CARGO_TARGET_${env_triple}_RUSTFLAGS=--sysroot=$root/target/cross-sysroot" \
    CARGO_TARGET_DIR="$root/target/cross" \
    cargo build --locked --profile release-small -p hotspot --target "$triple"
  binary="$root/target/cross/$triple/release-small/hotspot"
  ls -l "$binary"
  cross/package.sh "$arch" "$binary"
done
