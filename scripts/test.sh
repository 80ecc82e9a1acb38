#!/usr/bin/env bash
# Runs every check a submission must pass: formatting, lints and the whole test suite (unit,
# end-to-end and the store tests against PostgreSQL through DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
scripts/setup.sh --tests
export LORA_PHY_PYTHON="${LORA_PHY_PYTHON:-$PWD/target/pyenv-lora/bin/python}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/test}"
step() {
  echo "test.sh: $* (at $((SECONDS / 60)) min $((SECONDS % 60)) s)" >&2
  "$@"
}
step cargo fmt --all -- --check
# Lints and tests run once, with the SoapySDR backend compiled in (radio-io's feature soapysdr;
# scripts/setup.sh installs libsoapysdr-dev). The default build (no SoapySDR) is linted for the
# hotspot binary, the one place where it differs, and compiled by the ARM builds below.
step cargo clippy --workspace --all-targets --locked --features hotspot/soapysdr -- -D warnings
step cargo clippy -p hotspot --bin hotspot --locked -- -D warnings
step cargo test --workspace --locked --features hotspot/soapysdr
# The explorer API against its OpenAPI document: schemathesis's generated requests and checks.
step scripts/schemathesis.sh
# The hotspot cross-built for 64- and 32-bit ARM (quick cross-ci profile), packaged and checked,
# then run under qemu-user against the x86-64 build (cross/README.md).
step cross/build.sh --profile cross-ci aarch64 armv7
HOST_FEATURES=hotspot/soapysdr step cross/qemu-check.sh --profile cross-ci aarch64 armv7
echo "test.sh: all checks passed in $((SECONDS / 60)) min $((SECONDS % 60)) s" >&2
