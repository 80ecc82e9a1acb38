#!/usr/bin/env bash
# Packages a hotspot binary for an ARM board: a .deb (binary, default config, systemd unit, a
# dedicated `hotspot` user) and a tarball for OEM images.
# Usage: cross/package.sh aarch64|armv7 PATH/TO/hotspot
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
arch=$1
binary=$2
case "$arch" in
  aarch64) deb_arch=arm64 ;;
  armv7) deb_arch=armhf ;;
  *) echo "package: unknown target $arch" >&2; exit 1 ;;
esac
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out="$root/target/cross/dist"
stage="$root/target/cross/stage-$arch"
rm -rf "$stage"
mkdir -p "$out" "$stage/DEBIAN" "$stage/usr/bin" "$stage/etc/hotspot" \
  "$stage/lib/systemd/system" "$stage/usr/share/hotspot/hardware" "$stage/var/lib/hotspot"

install -m 0755 "$binary" "$stage/usr/bin/hotspot"
install -m 0644 hotspot/hotspot.example.toml "$stage/etc/hotspot/hotspot.toml"
install -m 0644 hotspot/hotspot.service "$stage/lib/systemd/system/hotspot.service"
install -m 0644 hardware/profiles/*.toml "$stage/usr/share/hotspot/hardware/"

cat > "$stage/DEBIAN/control" <<CONTROL
Package: hotspot
Version: $version
Architecture: $deb_arch
Maintainer: lorapoc developers <dev@lorapoc.invalid>
Section: net
Priority: optional
Description: LoRa proof-of-coverage hotspot daemon
 Beacons, witnesses other hotspots' beacons and reports to the proof-of-coverage oracle.
CONTROL
echo "/etc/hotspot/hotspot.toml" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
  if ! getent passwd hotspot >/dev/null; then
    adduser --system --group --home /var/lib/hotspot --no-create-home hotspot
  fi
  # The hotspot reaches the radio through SPI, GPIO and serial devices.
  for group in spi gpio dialout i2c; do
    getent group "$group" >/dev/null && adduser hotspot "$group" >/dev/null || true
  done
  chown hotspot:hotspot /var/lib/hotspot
  chmod 0750 /var/lib/hotspot
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable hotspot.service >/dev/null || true
  fi
fi
POSTINST
cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
  systemctl stop hotspot.service >/dev/null || true
fi
PRERM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"

deb="$out/hotspot_${version}_${deb_arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
tarball="$out/hotspot-${version}-${arch}.tar.gz"
tar -C "$stage" --owner=0 --group=0 -czf "$tarball" usr etc lib var
echo "package: $deb ($(du -h "$deb" | cut -f1)), $tarball"
