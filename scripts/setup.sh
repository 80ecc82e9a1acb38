#!/usr/bin/env bash
# Installs what building and testing the project needs on a Debian machine: a C toolchain for
# the crates that build C (SQLite), and, for the tests, a PostgreSQL server on 127.0.0.1:5432.
# Safe to run again: it installs only what is missing. Usage: scripts/setup.sh [--tests]
set -euo pipefail

want_tests=false
[ "${1:-}" = "--tests" ] && want_tests=true

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)

postgres_running() {
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

if $want_tests && ! postgres_running && ! command -v pg_ctlcluster >/dev/null 2>&1; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no Rust toolchain found. Install one with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

if $want_tests && ! postgres_running; then
  echo "setup: starting PostgreSQL on 127.0.0.1:5432"
  version=$(ls /etc/postgresql | sort -V | tail -1)
  if [ -z "$version" ]; then
    echo "setup: PostgreSQL is installed but has no cluster" >&2
    exit 1
  fi
  sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do postgres_running && break; sleep 1; done
  postgres_running || { echo "setup: PostgreSQL did not start" >&2; exit 1; }
fi

if $want_tests && command -v psql >/dev/null 2>&1 && id postgres >/dev/null 2>&1; then
  # The tests connect as postgres/postgres to the database `test` (trust auth also accepts it).
  as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
  }
  if as_postgres psql -qAtc "select 1" >/dev/null 2>&1; then
    as_postgres psql -qc "alter user postgres password 'postgres'" >/dev/null
    as_postgres psql -qAtc "select 1 from pg_database where datname='test'" | grep -q 1 ||
      as_postgres createdb test
  fi
fi
