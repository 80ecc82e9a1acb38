#!/usr/bin/env bash
# Installs the ARM cross-build route on an x86-64 Debian 12 machine:
#   - Debian's rustc-web compiler at a version whose ARM standard libraries Debian also ships,
#   - those standard libraries (libstd-rust-web-dev for arm64 and armhf), unpacked into a private
#     sysroot under target/cross-sysroot (no multi-arch dpkg install, so no clash with the
#     host's packages),
#   - the gcc cross compilers/linkers and the C libraries of both targets,
#   - qemu-user-static to run the ARM binaries.
# rustup cannot download targets here; this route needs only Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sysroot="$root/target/cross-sysroot"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

for arch in arm64 armhf; do
  dpkg --print-foreign-architectures | grep -qx "$arch" || as_root dpkg --add-architecture "$arch"
done
if [ ! -f /var/lib/apt/lists/.cross-updated ] || ! apt-cache show libstd-rust-web-dev:arm64 >/dev/null 2>&1; then
  as_root apt-get update -qq -o DPkg::Lock::Timeout=600 || echo "cross: apt-get update reported errors; using the lists it got"
  as_root touch /var/lib/apt/lists/.cross-updated
fi

# The newest rustc-web version that Debian ships for the host and both ARM targets.
versions() { apt-cache madison "$1" | awk '{print $3}' | sort -uV; }
version=$(comm -12 <(versions rustc-web) <(versions libstd-rust-web-dev:arm64) |
  comm -12 - <(versions libstd-rust-web-dev:armhf) | sort -V | tail -1)
if [ -z "$version" ]; then
  echo "cross: no rustc-web version is available for amd64, arm64 and armhf alike" >&2
  exit 1
fi

need=()
# rustc-web needs its host standard library at the same version (apt would pick the newest).
[ "$(dpkg-query -W -f='${Version}' rustc-web 2>/dev/null || true)" = "$version" ] ||
  need+=("rustc-web=$version" "libstd-rust-web-dev=$version")
for package in gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user-static; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "cross: installing ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --allow-downgrades "${need[@]}"
fi

stamp="$sysroot/.version"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$version" ]; then
  echo "cross: unpacking Debian's ARM standard libraries $version into $sysroot"
  rm -rf "$sysroot"
  mkdir -p "$sysroot/debs"
  # The host's own standard library, so that one sysroot serves host and target crates alike.
  mkdir -p "$sysroot/lib/rustlib"
  cp -a /usr/lib/rustlib/x86_64-unknown-linux-gnu "$sysroot/lib/rustlib/"
  (cd "$sysroot/debs" && apt-get download -qq "libstd-rust-web-dev:arm64=$version" "libstd-rust-web-dev:armhf=$version")
  for deb in "$sysroot"/debs/*.deb; do
    dpkg-deb -x "$deb" "$sysroot/unpacked"
  done
  cp -a "$sysroot"/unpacked/usr/lib/rustlib/aarch64-unknown-linux-gnu "$sysroot/lib/rustlib/"
  cp -a "$sysroot"/unpacked/usr/lib/rustlib/armv7-unknown-linux-gnueabihf "$sysroot/lib/rustlib/"
  rm -rf "$sysroot/debs" "$sysroot/unpacked"
  echo "$version" > "$stamp"
fi
echo "cross: rustc $(/usr/bin/rustc --version | awk '{print $2}') with ARM std in $sysroot"
