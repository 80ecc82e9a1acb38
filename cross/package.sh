#!/usr/bin/env bash
# Packages a hotspot binary for an ARM board: a .deb (binary, default config as a conffile,
# systemd unit, hardware profiles, a dedicated `hotspot` system user made by postinst) and a
# tarball of the same tree for OEM images; then checks the .deb (dpkg-deb, and lintian when it
# is installed). Usage: cross/package.sh aarch64|armv7 PATH/TO/hotspot [OUT_DIR]
#   OUT_DIR defaults to target/cross/dist.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
arch=${1:?"usage: cross/package.sh aarch64|armv7 PATH/TO/hotspot"}
binary=${2:?"usage: cross/package.sh aarch64|armv7 PATH/TO/hotspot"}
case "$arch" in
  aarch64) deb_arch=arm64; machine="ARM aarch64"; strip=aarch64-linux-gnu-strip ;;
  armv7) deb_arch=armhf; machine="ARM, EABI5"; strip=arm-linux-gnueabihf-strip ;;
  *) echo "package: unknown target $arch (aarch64 or armv7)" >&2; exit 1 ;;
esac
if ! file -b "$binary" | grep -q "$machine"; then
  echo "package: $binary is not an $arch executable: $(file -b "$binary")" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "package: no workspace version in Cargo.toml" >&2; exit 1; }
out=${3:-$root/target/cross/dist}
stage="$root/target/cross/stage-$arch"
rm -rf "$stage"
mkdir -p "$out" "$stage/DEBIAN" "$stage/usr/bin" "$stage/etc/hotspot" \
  "$stage/lib/systemd/system" "$stage/usr/share/hotspot/hardware" "$stage/usr/share/doc/hotspot"

install -m 0755 "$binary" "$stage/usr/bin/hotspot"
# release-small binaries are stripped already; others (cross-ci) are stripped here.
"$strip" --strip-all "$stage/usr/bin/hotspot"
# The example configuration, with the key and the spool in the service's state directory.
sed -e 's|^key = .*|key = "/var/lib/hotspot/hotspot_key.bin"|' \
  -e 's|^onboarding_record = "[^"]*"|onboarding_record = "/var/lib/hotspot/onboarding.pb"|' \
  -e 's|^spool_dir = .*|spool_dir = "/var/lib/hotspot/spool"|' \
  hotspot/hotspot.example.toml > "$stage/etc/hotspot/hotspot.toml"
chmod 0644 "$stage/etc/hotspot/hotspot.toml"
grep -q '^key = "/var/lib/hotspot/hotspot_key.bin"' "$stage/etc/hotspot/hotspot.toml" ||
  { echo "package: hotspot.example.toml has no top-level key = line to point at /var/lib/hotspot" >&2; exit 1; }
grep -q '^onboarding_record = "/var/lib/hotspot/onboarding.pb"' "$stage/etc/hotspot/hotspot.toml" ||
  { echo "package: hotspot.example.toml has no onboarding_record = line to point at /var/lib/hotspot" >&2; exit 1; }
# The unit as written for a manual install, with the packaged binary's path.
sed -e 's|/usr/local/bin/hotspot|/usr/bin/hotspot|g' hotspot/hotspot.service \
  > "$stage/lib/systemd/system/hotspot.service"
chmod 0644 "$stage/lib/systemd/system/hotspot.service"
grep -q '^ExecStart=/usr/bin/hotspot ' "$stage/lib/systemd/system/hotspot.service" ||
  { echo "package: hotspot.service has no ExecStart with the hotspot binary" >&2; exit 1; }
install -m 0644 hardware/profiles/*.toml "$stage/usr/share/hotspot/hardware/"

# Dates from the last commit, so that the same tree packs the same way.
source_date=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
cat > "$stage/usr/share/doc/hotspot/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hotspot

Files: *
Copyright: $(date -u +%Y -d @"$source_date") lorapoc developers
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
printf 'hotspot (%s) unstable; urgency=medium\n\n  * Cross-built from the workspace (cross/build.sh).\n\n -- lorapoc developers <dev@lorapoc.invalid>  %s\n' \
  "$version" "$(date -R -d @"$source_date")" |
  gzip -9n > "$stage/usr/share/doc/hotspot/changelog.gz"
chmod 0644 "$stage/usr/share/doc/hotspot/"*

installed_kib=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: hotspot
Version: $version
Architecture: $deb_arch
Maintainer: lorapoc developers <dev@lorapoc.invalid>
Installed-Size: $installed_kib
Depends: libc6, adduser
Section: net
Priority: optional
Homepage: https://lorapoc.invalid/
Description: LoRa proof-of-coverage hotspot daemon
 Sends beacons, witnesses other hotspots' beacons and delivers the reports to
 the proof-of-coverage oracle. Runs as the hotspot system user under systemd;
 configuration in /etc/hotspot/hotspot.toml, board profiles in
 /usr/share/hotspot/hardware.
CONTROL
echo "/etc/hotspot/hotspot.toml" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
  if ! getent passwd hotspot >/dev/null; then
    adduser --system --group --home /var/lib/hotspot --no-create-home hotspot
  fi
  # The hotspot reaches the radio through SPI, GPIO, I2C and serial devices.
  for group in spi gpio i2c dialout; do
    if getent group "$group" >/dev/null; then
      adduser hotspot "$group" >/dev/null
    fi
  done
  install -d -o hotspot -g hotspot -m 0750 /var/lib/hotspot
  # The hotspot's identity: made once, kept across upgrades and removal.
  if [ ! -e /var/lib/hotspot/hotspot_key.bin ]; then
    runuser -u hotspot -- /usr/bin/hotspot --config /etc/hotspot/hotspot.toml \
      key generate --out /var/lib/hotspot/hotspot_key.bin >/dev/null
  fi
fi
# Enabled on first install (was-enabled is true for a unit it has never seen), as debhelper does;
# an administrator's disable survives upgrades.
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
  if command -v deb-systemd-helper >/dev/null; then
    if deb-systemd-helper --quiet was-enabled hotspot.service; then
      deb-systemd-helper enable hotspot.service >/dev/null || true
    else
      deb-systemd-helper update-state hotspot.service >/dev/null || true
    fi
  fi
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
  fi
fi
POSTINST
cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ] && command -v deb-systemd-invoke >/dev/null; then
  deb-systemd-invoke stop hotspot.service >/dev/null || true
fi
PRERM
cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
if command -v deb-systemd-helper >/dev/null; then
  if [ "$1" = "remove" ]; then
    deb-systemd-helper mask hotspot.service >/dev/null || true
  elif [ "$1" = "purge" ]; then
    deb-systemd-helper purge hotspot.service >/dev/null || true
    deb-systemd-helper unmask hotspot.service >/dev/null || true
  fi
fi
# /var/lib/hotspot (the key and undelivered reports) and the hotspot user stay on purge:
# the key is the hotspot's identity on the network.
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
for script in postinst prerm postrm; do
  sh -n "$stage/DEBIAN/$script"
done

deb="$out/hotspot_${version}_${deb_arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
tarball="$out/hotspot-${version}-${arch}.tar.gz"
tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$tarball" usr etc lib

# Checks: the control fields and the file list the package must have.
info=$(dpkg-deb --info "$deb")
contents=$(dpkg-deb --contents "$deb")
problems=()
grep -q "Architecture: $deb_arch" <<<"$info" || problems+=("Architecture is not $deb_arch")
grep -q " conffiles" <<<"$info" || problems+=("no conffiles")
grep -q " postinst" <<<"$info" || problems+=("no postinst")
for path in ./usr/bin/hotspot ./etc/hotspot/hotspot.toml ./lib/systemd/system/hotspot.service \
  ./usr/share/doc/hotspot/copyright ./usr/share/hotspot/hardware/; do
  grep -q " $path\$" <<<"$contents" || problems+=("$path missing")
done
grep -q '^-rwxr-xr-x root/root .* ./usr/bin/hotspot$' <<<"$contents" || problems+=("/usr/bin/hotspot not 0755 root")
if [ ${#problems[@]} -gt 0 ]; then
  printf 'package: %s: %s\n' "$deb" "${problems[@]}" >&2
  exit 1
fi
if command -v lintian >/dev/null; then
  # Errors fail the package; warnings are printed. A package built outside a Debian source tree
  # has no source package and no manual page (yet).
  lintian --fail-on error --suppress-tags no-manual-page "$deb"
fi
echo "package: $deb ($(stat -c %s "$deb") bytes), $tarball ($(stat -c %s "$tarball") bytes)"
