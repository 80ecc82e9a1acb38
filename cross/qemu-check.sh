#!/usr/bin/env bash
# Runs the cross-compiled ARM hotspot under qemu-user-static and compares it with the x86-64
# build: `--version`, `key generate` (the key must read back the same address on x86-64) and
# `decode` of the recording cross/testdata/sf7-os2.cu8 (the same frames, every field equal, the
# SNR/RSSI/CFO floats up to their last bits: cross/compare-frames.py; and every frame of the
# recording). Exits non-zero on any difference.
# Usage: cross/qemu-check.sh [--profile PROFILE] [aarch64|armv7 ...]
#   PROFILE is the cargo profile the ARM binaries were built with (cross/build.sh), default
#   release-small. The x86-64 reference is built here (`cargo build -p hotspot`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# Where cargo puts what it builds (CARGO_TARGET_DIR when set).
target_dir=${CARGO_TARGET_DIR:-$root/target}

profile=release-small
if [ "${1:-}" = "--profile" ]; then
  profile=${2:?"--profile needs a value"}
  shift 2
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64 armv7)

recording=cross/testdata/sf7-os2.cu8
decode_args=(decode "$recording" --format cu8 --sf 7 --bw 125000 --oversampling 2 --frequency 868100000)
# Frames in the recording (cross/testdata/make-recording.py), all with a good CRC.
expected_frames=3
# A hang under emulation must fail the check, not stall CI.
limit=300

locked=(--locked)
[ "${CROSS_UNLOCKED:-0}" = 1 ] && locked=()
# --workspace and HOST_FEATURES (scripts/test.sh: hotspot/soapysdr): the features the test run
# built it with, so a test run leaves it fresh.
features=()
[ -n "${HOST_FEATURES:-}" ] && features=(--features "$HOST_FEATURES")
cargo build "${locked[@]}" -q --workspace --bin hotspot "${features[@]}"
host="$target_dir/debug/hotspot"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "qemu-check: FAIL $*" >&2
  failures=$((failures + 1))
}

"$host" --version > "$work/version.host"
"$host" "${decode_args[@]}" > "$work/decode.host"
host_frames=$(grep -c '"crc_ok":true' "$work/decode.host" || true)
if [ "$host_frames" -ne "$expected_frames" ]; then
  fail "x86-64: $host_frames good frames in $recording, expected $expected_frames"
fi

for arch in "${targets[@]}"; do
  case "$arch" in
    aarch64) triple=aarch64-unknown-linux-gnu; qemu=qemu-aarch64-static; libs=/usr/aarch64-linux-gnu ;;
    armv7) triple=armv7-unknown-linux-gnueabihf; qemu=qemu-arm-static; libs=/usr/arm-linux-gnueabihf ;;
    *) echo "qemu-check: unknown target $arch (aarch64 or armv7)" >&2; exit 2 ;;
  esac
  binary="$target_dir/$triple/$profile/hotspot"
  if [ ! -x "$binary" ]; then
    fail "$arch: no binary at $binary (run cross/build.sh --profile $profile $arch)"
    continue
  fi
  arm() { timeout "$limit" "$qemu" -L "$libs" "$binary" "$@"; }
  echo "qemu-check: $arch ($binary)"

  status=0
  arm --version > "$work/version.$arch" 2> "$work/stderr" || status=$?
  if [ "$status" -eq 0 ]; then
    diff -u "$work/version.host" "$work/version.$arch" || fail "$arch: --version differs"
  else
    fail "$arch: --version exited $status: $(tail -3 "$work/stderr")"
  fi

  key="$work/key.$arch"
  status=0
  arm key generate --out "$key" > "$work/address.$arch" 2> "$work/stderr" || status=$?
  if [ "$status" -eq 0 ]; then
    printf 'key = "%s"\n' "$key" > "$work/config.$arch.toml"
    "$host" --config "$work/config.$arch.toml" key show > "$work/address.host.$arch"
    diff -u "$work/address.$arch" "$work/address.host.$arch" ||
      fail "$arch: the generated key reads back a different address on x86-64"
    [ -s "$work/address.$arch" ] || fail "$arch: key generate printed no address"
    if arm key generate --out "$key" > /dev/null 2>&1; then
      fail "$arch: key generate overwrote an existing key"
    fi
    # The maker's factory step on the board: the host must read the record as this
    # hotspot's, with a valid maker signature.
    "$host" key generate --out "$work/maker.$arch" > /dev/null
    arm --config "$work/config.$arch.toml" record issue --maker-key "$work/maker.$arch" \
      --out "$work/record.$arch" > /dev/null 2> "$work/stderr" ||
      fail "$arch: record issue failed: $(tail -3 "$work/stderr")"
    "$host" --config "$work/config.$arch.toml" record show --record "$work/record.$arch" \
      > "$work/record.$arch.json" 2> "$work/stderr" ||
      fail "$arch: the host cannot read the record: $(tail -3 "$work/stderr")"
    grep -q '"maker_signature_valid": true' "$work/record.$arch.json" &&
      grep -q '"is_this_hotspot": true' "$work/record.$arch.json" ||
      fail "$arch: the record does not verify on x86-64: $(cat "$work/record.$arch.json")"
  else
    fail "$arch: key generate exited $status: $(tail -3 "$work/stderr")"
  fi

  status=0
  arm "${decode_args[@]}" > "$work/decode.$arch" 2> "$work/stderr" || status=$?
  if [ "$status" -eq 0 ]; then
    python3 cross/compare-frames.py "$work/decode.host" "$work/decode.$arch" ||
      fail "$arch: decode differs from x86-64"
  else
    fail "$arch: decode exited $status: $(tail -3 "$work/stderr")"
  fi
done

if [ "$failures" -gt 0 ]; then
  echo "qemu-check: $failures failure(s)" >&2
  exit 1
fi
echo "qemu-check: ${targets[*]} match x86-64 (version, key, onboarding record, $host_frames frames decoded)"
