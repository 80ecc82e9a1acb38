#!/usr/bin/env python3
"""Drives the simulated radio of a LoRa Basics Station (its `testsim` build) for
scripts/basicstation-check.sh: the station's own radio simulator (pysys/simutils.py of the
station's checkout, Python standard library only) listens on the station's unix socket; once the
station has configured its radio from the LNS's router_config and connected, two frames are put
on the air for it to hear: a LoRaWAN unconfirmed data uplink and a beacon-shaped proprietary frame
(first byte 0xE0, 51 bytes). Every frame the station transmits is printed as one JSON line
("tx"); the script ends `--hold` seconds after `--tx` transmissions were seen (exit 0), or at
`--timeout` (exit 1).

Usage: basicstation_sim.py STATION_CHECKOUT HOME STATION_BINARY --uplink-mhz F --uplink-sf SF
       --beacon-mhz F --beacon-sf SF [--tx N] [--timeout S] [--hold S]
       [--metrics URL --metrics-out FILE]
The station runs in HOME (station.conf, tc.uri, its log on stderr). With --metrics URL and
--metrics-out FILE, the LNS's metrics are saved while the station is still connected.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", help="the station's source checkout (for pysys/simutils.py)")
    parser.add_argument("home", help="the station's home directory")
    parser.add_argument("station", help="the station binary (its testsim build)")
    parser.add_argument("--uplink-mhz", type=float, required=True)
    parser.add_argument("--uplink-sf", type=int, required=True)
    parser.add_argument("--beacon-mhz", type=float, required=True)
    parser.add_argument("--beacon-sf", type=int, required=True)
    parser.add_argument("--tx", type=int, default=1, help="transmissions to wait for")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--metrics", help="the LNS's Prometheus URL, read at the end of --hold")
    parser.add_argument("--metrics-out", help="where to write what --metrics answered")
    parser.add_argument(
        "--hold", type=float, default=12.0, help="seconds the station stays on after the last one"
    )
    return parser.parse_args()


def emit(event, **fields):
    print(json.dumps({"event": event, "t": round(time.time(), 3), **fields}), flush=True)


def save_metrics(url, path):
    """Writes what the LNS's metrics endpoint answers now, with the station still connected."""
    with urllib.request.urlopen(url, timeout=5) as response, open(path, "wb") as out:
        out.write(response.read())


def beacon_shaped_frame():
    """51 bytes, proprietary MHDR 0xE0: what a hotspot's beacon looks like on air."""
    return bytes([0xE0]) + bytes(range(1, 51))


async def main():
    args = parse_args()
    sys.path.insert(0, os.path.join(args.checkout, "pysys"))
    import simutils as su  # the station's own radio simulator

    transmitted = asyncio.Queue()
    connected = asyncio.Event()

    class Radio(su.LgwSimServer):
        async def on_connected(self, lgwsim):
            emit("radio_connected", unit=lgwsim.unitIdx)
            connected.set()

        async def on_tx(self, lgwsim, pkt):
            emit(
                "tx",
                freq_hz=pkt["freq_hz"],
                rf_power=pkt["rf_power"],
                datarate=pkt["datarate"],
                bandwidth=pkt["bandwidth"],
                coderate=pkt["coderate"],
                invert_pol=pkt["invert_pol"],
                no_crc=pkt["no_crc"],
                preamble=pkt["preamble"],
                payload=pkt["payload"].hex(),
            )
            await transmitted.put(pkt)

        async def on_close(self):
            emit("radio_closed")

    radio = Radio(path=os.path.join(args.home, "spidev"))
    await radio.start_server()
    station = await asyncio.create_subprocess_exec(
        args.station, "--home", args.home, "--temp", args.home, cwd=args.home
    )
    emit("station_started", pid=station.pid)
    deadline = time.monotonic() + args.timeout
    try:
        await asyncio.wait_for(connected.wait(), timeout=args.timeout)
        await asyncio.sleep(1.0)
        lgwsim = radio.units[min(radio.units)]
        uplink = su.makeDF(fcnt=7, devaddr=0x26011BDA, port=1, payload=b"\x01\x02", mic=0x11223344)
        await lgwsim.send_rx(rps=(args.uplink_sf, 125), freq=args.uplink_mhz, frame=uplink)
        emit("rx_injected", kind="updf", mhz=args.uplink_mhz, sf=args.uplink_sf, payload=uplink.hex())
        beacon = beacon_shaped_frame()
        await lgwsim.send_rx(rps=(args.beacon_sf, 125), freq=args.beacon_mhz, frame=beacon)
        emit("rx_injected", kind="propdf", mhz=args.beacon_mhz, sf=args.beacon_sf, payload=beacon.hex())
        for _ in range(args.tx):
            await asyncio.wait_for(transmitted.get(), timeout=max(0.0, deadline - time.monotonic()))
        await asyncio.sleep(args.hold)  # the dntxed, then the LNS's counters, catch up
        if args.metrics and args.metrics_out:
            save_metrics(args.metrics, args.metrics_out)
        return 0
    except asyncio.TimeoutError:
        emit("timeout", radio_connected=connected.is_set(), transmissions=transmitted.qsize())
        return 1
    finally:
        station.terminate()
        await station.wait()
        radio.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
