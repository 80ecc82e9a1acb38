#!/usr/bin/env bash
# Runs the reference LoRa Basics Station against the hotspot's Basic Station backend, its radio
# simulated, and checks the LNS protocol end to end (hotspot/README.md, "Checked against the
# reference station"). Not part of scripts/test.sh: it needs a checkout of
# github.com/lorabasics/basicstation with its simulation variant already built (`testsim`: the
# station with its radio replaced by a simulator on a unix socket; see the checkout's
# examples/simulation), which this script does not build.
#
#   scripts/basicstation-check.sh /path/to/basicstation
#
# It starts an oracle (embedded store, for the beacon's entropy), a hotspot with
# `[radio] backend = "basic_station"` beaconing every BEACON_SECS, and the station with
# `tc.uri` at the hotspot. It checks that the station is discovered and sends `version`, that it
# configures its radio from the hotspot's `router_config` without an error, that a LoRaWAN
# uplink and a beacon-shaped frame the simulated radio hears arrive as `updf` and `propdf`
# (counted as an uplink; filed as a witness), that the hotspot's beacon `dnmsg` is
# transmitted by the simulated radio and confirmed by `dntxed`, and that the station (its
# simulated concentrator with a PPS) takes the GPS time of the hotspot's `timesync` answer.
#
# Environment: REGION (EU868 or US915, default EU868), PORT (the LNS port, default 1887),
# HOTSPOT and ORACLE (the binaries; default $CARGO_TARGET_DIR/debug/, or target/debug/), WORK
# (the run's directory, default a new one under /tmp, kept for its logs), BEACON_SECS (default
# 15), TIMEOUT_SECS (default 120). Needs python3 (standard library only) and curl. The hotspot
# is not onboarded, so the oracle refuses its reports ("unknown_gateway" in its log): the
# reports are not what this checks.
set -euo pipefail

checkout=${1:?usage: $0 /path/to/basicstation}
checkout=$(cd "$checkout" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
region=${REGION:-EU868}
port=${PORT:-1887}
target=${CARGO_TARGET_DIR:-$repo/target}
hotspot=${HOTSPOT:-$target/debug/hotspot}
oracle=${ORACLE:-$target/debug/oracle}
beacon_secs=${BEACON_SECS:-15}
timeout_secs=${TIMEOUT_SECS:-120}
work=${WORK:-$(mktemp -d /tmp/basicstation-check.XXXXXX)}
station="$checkout/build-linux-testsim/bin/station"
grpc_port=$((port + 100))
http_port=$((port + 101))
metrics_port=$((port + 102))

for binary in "$station" "$hotspot" "$oracle"; do
    if [[ ! -x $binary ]]; then
        echo "missing $binary (the station: its testsim variant, built in the checkout;" \
            "the hotspot and oracle: cargo build -p hotspot -p oracle)" >&2
        exit 2
    fi
done

case $region in
EU868) uplink_mhz=868.3 beacon_mhz=868.1 beacon_sf=12 ;;
US915) uplink_mhz=904.3 beacon_mhz=903.9 beacon_sf=9 ;;
*)
    echo "REGION must be EU868 or US915" >&2
    exit 2
    ;;
esac

mkdir -p "$work/oracle" "$work/hotspot" "$work/station"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "run directory: $work"
echo "station: $(git -C "$checkout" rev-parse HEAD 2>/dev/null || echo unknown)" \
    "$("$station" --version 2>&1 | head -1)"

env -u DATABASE_URL "$oracle" serve --data-dir "$work/oracle" \
    --grpc-addr "127.0.0.1:$grpc_port" --http-addr "127.0.0.1:$http_port" \
    >"$work/oracle.log" 2>&1 &
pids+=($!)

cat >"$work/hotspot/hotspot.toml" <<EOF
key = "$work/hotspot/hotspot_key.bin"
oracle = "http://127.0.0.1:$grpc_port"
region = "$region"
spool_dir = "$work/hotspot/spool"
metrics_listen = "127.0.0.1:$metrics_port"

[location]
lat = 48.85
lon = 2.35
gain_dbi = 0.0

[beacon]
interval_secs = $beacon_secs

[radio]
backend = "basic_station"

[radio.basic_station]
listen = "127.0.0.1:$port"
EOF
"$hotspot" --config "$work/hotspot/hotspot.toml" key generate >/dev/null
RUST_LOG=${RUST_LOG:-info,radio_io=debug} "$hotspot" --config "$work/hotspot/hotspot.toml" run \
    >"$work/hotspot.log" 2>&1 &
pids+=($!)

# The station's configuration: its radio hardware only, the channel plan comes from the LNS.
cat >"$work/station/station.conf" <<EOF
{
    "SX1301_conf": {
        "lorawan_public": true,
        "clksrc": 1,
        "pps": true,
        "device": "spidev",
        "radio_0": { "type": "SX1257", "rssi_offset": -166.0, "tx_enable": true, "tx_notch_freq": 129000,
                     "antenna_gain": 0 },
        "radio_1": { "type": "SX1257", "rssi_offset": -166.0, "tx_enable": false }
    },
    "station_conf": {
        "routerid": "b827:ebff:fe00:0001",
        "log_file": "stderr",
        "log_level": "DEBUG"
    }
}
EOF
printf 'ws://127.0.0.1:%s' "$port" >"$work/station/tc.uri"

for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$metrics_port/metrics" >/dev/null && break
    sleep 0.2
done

status=0
python3 "$repo/scripts/basicstation_sim.py" "$checkout" "$work/station" "$station" \
    --uplink-mhz "$uplink_mhz" --uplink-sf 9 --beacon-mhz "$beacon_mhz" --beacon-sf "$beacon_sf" \
    --tx 1 --timeout "$timeout_secs" --metrics "http://127.0.0.1:$metrics_port/metrics" \
    --metrics-out "$work/metrics.txt" >"$work/sim.jsonl" 2>"$work/station.log" || status=$?
touch "$work/metrics.txt"

failures=0
check() { # check NAME FILE PATTERN: one line per check, grep -E PATTERN in FILE
    if grep -Eq -- "$3" "$2"; then
        echo "ok    $1"
    else
        echo "FAIL  $1 (no /$3/ in $(basename "$2"))"
        failures=$((failures + 1))
    fi
}
check "router-info discovery answered" "$work/hotspot.log" "Basic Station discovery answered"
check "version received, router_config sent" "$work/hotspot.log" "Basic Station version; sending router_config"
check "the station configured its region" "$work/station.log" "Configuring for region: $region"
check "the simulated radio started" "$work/sim.jsonl" '"event": "radio_connected"'
check "uplink forwarded as updf" "$work/station.log" "updf mhdr=40"
check "beacon-shaped frame forwarded as propdf" "$work/station.log" "propdf E0"
check "the station counted as connected" "$work/metrics.txt" 'hotspot_radio_events\{event="stations_known"\} 1'
check "uplinks reached the hotspot" "$work/metrics.txt" 'hotspot_radio_events\{event="uplinks"\} [2-9]'
check "the LoRaWAN uplink counted" "$work/metrics.txt" 'hotspot_uplinks_total\{kind="unconfirmed_data_up"\} 1'
check "the beacon-shaped frame witnessed" "$work/metrics.txt" 'hotspot_witnesses_accepted_total [1-9]'
check "the beacon transmitted by the radio" "$work/sim.jsonl" '"event": "tx"'
check "dntxed sent by the station" "$work/station.log" "dntxed: "
check "the beacon confirmed (dntxed)" "$work/metrics.txt" 'hotspot_radio_events\{event="tx_ok"\} [1-9]'
check "timesync answered" "$work/metrics.txt" 'hotspot_radio_events\{event="timesyncs"\} [1-9]'
check "the station took the GPS time" "$work/station.log" "Timesync with LNS: gpsOffset="
check "the beacon counted as sent" "$work/metrics.txt" 'hotspot_beacons_sent_total [1-9]'
if grep -E '\[[A-Za-z_?]+:(ERRO|CRIT)\]|Unknown field|mandatory fields are missing|Ignoring' \
    "$work/station.log" >"$work/station-errors.txt"; then
    echo "FAIL  the station's log has errors or ignored fields:"
    sed 's/^/      /' "$work/station-errors.txt"
    failures=$((failures + 1))
else
    echo "ok    no error, unknown field or ignored message in the station's log"
fi
echo "logs: $work/{hotspot,station,oracle}.log, $work/sim.jsonl, $work/metrics.txt"
if ((status != 0 || failures != 0)); then
    echo "basicstation-check: FAILED ($failures checks, simulator exit $status)"
    exit 1
fi
echo "basicstation-check: all checks passed"
