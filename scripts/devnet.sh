#!/usr/bin/env bash
# Runs a local proof-of-coverage network: an oracle on the embedded store and 25 simulated
# hotspots in San Francisco. Extra arguments go to the devnet (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release --bin devnet -- "$@"
