#!/usr/bin/env bash
# Schemathesis (PyPI) against a fresh oracle's explorer API: every operation of
# oracle/openapi.json with generated valid and invalid requests, all checks (documented statuses,
# content types and schemas, valid input accepted, invalid input refused, no server errors; every
# check is on unless oracle/schemathesis/schemathesis.toml says otherwise).
# Needs the oracle binary (cargo build -p oracle) and the virtual environment
# scripts/setup.sh --tests makes at target/pyenv-schemathesis. Takes under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SCHEMATHESIS_VENV:-$PWD/target/pyenv-schemathesis}"
oracle="${ORACLE_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/oracle}"
free_port() {
  "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_port=$(free_port)
grpc_port=$(free_port)
dir=$(mktemp -d)
# No rate limit: schemathesis sends hundreds of requests a second from one address.
printf '[http]\nrequests_per_second = 0\n' > "$dir/oracle.toml"
# The embedded SQLite store in the temporary directory, whatever DATABASE_URL says.
env -u DATABASE_URL "$oracle" serve --data-dir "$dir" --config "$dir/oracle.toml" \
  --grpc-addr "127.0.0.1:$grpc_port" --http-addr "127.0.0.1:$http_port" > "$dir/oracle.log" 2>&1 &
oracle_pid=$!
stop() {
  local status=$?
  kill "$oracle_pid" 2>/dev/null || true
  wait "$oracle_pid" 2>/dev/null || true
  rm -rf "$dir"
  exit "$status"
}
trap stop EXIT
for _ in $(seq 50); do
  (echo > "/dev/tcp/127.0.0.1/$http_port") 2>/dev/null && break
  sleep 0.2
done
PYTHONPATH="$PWD/oracle/schemathesis" SCHEMATHESIS_HOOKS=explorer_hooks \
  "$venv/bin/schemathesis" --config-file oracle/schemathesis/schemathesis.toml run \
  oracle/openapi.json --url "http://127.0.0.1:$http_port" \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed "${SCHEMATHESIS_SEED:-1}" --no-color
