#!/usr/bin/env bash
# Runs every check a submission must pass: formatting, lints and the whole test suite (unit,
# end-to-end and the store tests against PostgreSQL through DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
export LORA_PHY_PYTHON="${LORA_PHY_PYTHON:-$PWD/target/pyenv-lora/bin/python}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/test}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The SoapySDR backend (cargo feature soapysdr; scripts/setup.sh installs libsoapysdr-dev).
cargo clippy -p hotspot --features soapysdr --all-targets --locked -- -D warnings
cargo test -p radio --features soapysdr --locked --lib backend::
# The hotspot cross-built for 64- and 32-bit ARM (quick cross-ci profile), packaged and checked,
# then run under qemu-user against the x86-64 build (cross/README.md).
cross/build.sh --profile cross-ci aarch64 armv7
cross/qemu-check.sh --profile cross-ci aarch64 armv7
