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

# A mirror caught mid-sync fails one index of apt-get update; the others still serve.
apt_update() {
  sudo_if_needed apt-get update -qq || echo "setup: apt-get update reported errors; using the package lists it got" >&2
}

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
# The SoapySDR radio backend (cargo feature soapysdr of radio-io and hotspot) links libSoapySDR.
pkg-config --exists SoapySDR 2>/dev/null || missing+=(libsoapysdr-dev)

postgres_running() {
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

if $want_tests && ! postgres_running && ! command -v pg_ctlcluster >/dev/null 2>&1; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt_update
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

# --- oracle: NATS with JetStream on 127.0.0.1:4222 for the shared report log's tests -------------
# (oracle/tests/it/report_log.rs; NATS_URL points elsewhere). Debian's nats-server, started
# with JetStream and a store under /var/lib/nats-server where no server answers.
if $want_tests && [ -z "${NATS_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
  if ! command -v nats-server >/dev/null 2>&1 && ! [ -x /usr/sbin/nats-server ]; then
    echo "setup: installing nats-server"
    apt_update
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  fi
  nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  echo "setup: starting NATS with JetStream on 127.0.0.1:4222"
  sudo_if_needed mkdir -p /var/lib/nats-server
  sudo_if_needed sh -c "nohup '$nats_bin' -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server \
    -l /var/log/nats-server.log >/dev/null 2>&1 &"
  for _ in $(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 1; done
  (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null || { echo "setup: NATS did not start" >&2; exit 1; }
fi

# --- radio: lora-phy cross-check (radio/tests/lora_phy_crosscheck.rs) --------------------------
# A Python >= 3.12 virtual environment at target/pyenv-lora with the PyPI package `lora-phy` (an
# independent LoRa PHY, a port of jkadbear/LoRaPHY). scripts/test.sh points LORA_PHY_PYTHON at it.
if $want_tests; then
  lora_venv="$(cd "$(dirname "$0")/.." && pwd)/target/pyenv-lora"
  py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
  if ! { [ -x "$lora_venv/bin/python" ] && "$lora_venv/bin/python" -c 'import lora_phy' >/dev/null 2>&1; }; then
    lora_py=""
    for cand in python3.12 python3.13 python3.14 /root/.pyenv/versions/3.1[2-9]*/bin/python3 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 python3; do
      if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then lora_py="$cand"; break; fi
    done
    if [ -z "$lora_py" ]; then
      debian_py=$(apt-cache policy python3 2>/dev/null | awk '/Candidate:/ {print $2}')
      if dpkg --compare-versions "${debian_py:-0}" ge 3.12; then
        echo "setup: installing Debian python3 $debian_py for the lora-phy cross-check"
        apt_update
        sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
        lora_py=/usr/bin/python3
      else
        echo "setup: the lora-phy cross-check needs Python >= 3.12 (Debian offers ${debian_py:-none});" \
          "install one (e.g. pyenv install 3.12) and run this again" >&2
        exit 1
      fi
    fi
    if ! "$lora_py" -m venv --help >/dev/null 2>&1; then
      sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    fi
    echo "setup: creating $lora_venv with $lora_py and installing lora-phy"
    rm -rf "$lora_venv"
    "$lora_py" -m venv "$lora_venv"
    "$lora_venv/bin/python" -m pip install -q lora-phy
  fi
fi

# --- oracle: schemathesis against the explorer API (scripts/schemathesis.sh) -------------------
# A virtual environment at target/pyenv-schemathesis with the PyPI package `schemathesis`
# (Python >= 3.9), pinned so that a new release does not change what the check looks for.
if $want_tests; then
  st_venv="$(cd "$(dirname "$0")/.." && pwd)/target/pyenv-schemathesis"
  st_version=4.32.5
  if ! { [ -x "$st_venv/bin/schemathesis" ] &&
    [ "$("$st_venv/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $st_version" ]; }; then
    if ! python3 -m venv --help >/dev/null 2>&1; then
      apt_update
      sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv
    fi
    echo "setup: creating $st_venv and installing schemathesis $st_version"
    rm -rf "$st_venv"
    python3 -m venv "$st_venv"
    "$st_venv/bin/python" -m pip install -q "schemathesis==$st_version"
  fi
fi

# --- routing: lora-packet cross-check (routing/tests/peer_crosscheck.rs) ------------------------
# Node.js and npm from Debian, and the npm package `lora-packet` (an independent LoRaWAN
# implementation) at the version routing/tests/peer/package-lock.json pins, in that folder.
if $want_tests; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs and npm for the routing cross-check"
    apt_update
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  fi
  peer_dir="$(cd "$(dirname "$0")/.." && pwd)/routing/tests/peer"
  peer_version() {
    node -e 'const lock = require(process.argv[1]); const p = lock.packages["node_modules/lora-packet"];
      let have = ""; try { have = require(process.argv[2]).version; } catch (e) {}
      process.exit(p && p.version === have ? 0 : 1)' \
      "$peer_dir/package-lock.json" "$peer_dir/node_modules/lora-packet/package.json"
  }
  if ! peer_version; then
    echo "setup: installing lora-packet in $peer_dir (npm ci)"
    (cd "$peer_dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# --- radio-io: font for radio-bench's PER plot (plotters renders text from a TrueType file) -------
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing fonts-dejavu-core (radio-bench plot)"
  apt_update
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core
fi

# --- oracle: headless Chromium for the map page test (oracle/tests/it/explorer_map.rs) ---------------
# Debian's chromium; the test drives it over the DevTools protocol and fails under CI=true
# without it.
if $want_tests && ! [ -x /usr/bin/chromium ]; then
  echo "setup: installing chromium for the oracle map page test"
  apt_update
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
fi

# --- cross: the ARM cross-build route (cross/README.md): Debian's rustc-web, the ARM standard
# libraries, cross linkers and qemu-user-static, for the qemu check in scripts/test.sh.
if $want_tests; then
  "$(cd "$(dirname "$0")/.." && pwd)/cross/setup.sh"
fi
