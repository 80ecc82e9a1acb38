"""Bridge between radio/tests/lora_phy_crosscheck.rs and the PyPI package `lora-phy` (a Python
port of jkadbear/LoRaPHY, an implementation independent of ours).

Reads jobs from stdin, one per line, and answers each with exactly one line on stdout:

  encode SF BW FS CR CRC IMPLICIT PREAMBLE PAYLOAD_HEX OUT_FILE
      lora-phy encodes and modulates the payload into OUT_FILE (complex64 = cf32) and answers
      "symbols S0,S1,..." (the data symbols it modulated).
  decode SF BW FS CR CRC IMPLICIT PREAMBLE LEN IN_FILE
      lora-phy demodulates and decodes IN_FILE (cf32) and answers
      "frames F1|F2|..." with each frame "HEADER_OK:CRC_OK:PAYLOAD_HEX:S0,S1,...";
      CRC_OK is 1, 0 or - (no CRC); LEN is the implicit-header payload length.

CRC, IMPLICIT are 0/1; CR is 1..4 (4/5..4/8); BW and FS in Hz. PAYLOAD_HEX "-" is empty.
Sampling-frequency-offset compensation is disabled (carrier frequency = infinity): our
transmitter has none, and lora-phy truncates compensated symbol values to integers.
"""

import logging
import sys

import numpy as np
from lora_phy import LoRaReceiver, LoRaTransmitter
from lora_phy.errors import NoPreambleError, NoSyncError

logging.disable(logging.CRITICAL)


def encode(sf, bw, fs, cr, crc, implicit, preamble, payload_hex, out):
    tx = LoRaTransmitter(sf, bw, fs, has_header=not implicit, coding_rate=cr,
                         enable_crc=crc, preamble_len=preamble)
    payload_hex = "" if payload_hex == "-" else payload_hex
    payload = np.frombuffer(bytes.fromhex(payload_hex), dtype=np.uint8).copy()
    symbols = tx.encode(payload)
    tx.modulate(symbols).astype(np.complex64).tofile(out)
    return "symbols " + ",".join(str(int(s)) for s in symbols)


def decode(sf, bw, fs, cr, crc, implicit, preamble, length, inp):
    rx = LoRaReceiver(float("inf"), sf, bw, fs, has_header=not implicit,
                      implicit_header_payload_len=length, implicit_header_coding_rate=cr,
                      implicit_header_enable_crc=crc, preamble_len=preamble)
    signal = np.fromfile(inp, dtype=np.complex64).astype(np.complex128)
    try:
        symbol_lists, _cfos, _netids = rx.demodulate(signal)
    except (NoPreambleError, NoSyncError):
        symbol_lists = []
    frames = []
    for symbols in symbol_lists:
        if implicit:
            header_ok, n, has_crc = True, length, crc
        else:
            header_ok, n, _cr, has_crc = rx._parse_header(symbols[:8])
        data, checksum = rx.decode(symbols)
        payload = bytes(int(b) for b in data[:n])
        crc_ok = "-"
        if has_crc:
            good = (checksum is not None and len(data) >= n + 2
                    and int(data[n]) == int(checksum[0]) and int(data[n + 1]) == int(checksum[1]))
            crc_ok = "1" if good else "0"
        frames.append("%d:%s:%s:%s" % (int(bool(header_ok)), crc_ok, payload.hex(),
                                        ",".join(str(int(s)) for s in symbols)))
    return "frames " + "|".join(frames)


def main():
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        try:
            sf, bw, fs, cr = int(f[1]), float(f[2]), float(f[3]), int(f[4])
            crc, implicit, preamble = f[5] == "1", f[6] == "1", int(f[7])
            if f[0] == "encode":
                answer = encode(sf, bw, fs, cr, crc, implicit, preamble, f[8], f[9])
            elif f[0] == "decode":
                answer = decode(sf, bw, fs, cr, crc, implicit, preamble, int(f[8]), f[9])
            else:
                answer = "error unknown job " + f[0]
        except Exception as e:  # reported to the Rust side, which fails the test
            answer = "error " + repr(e).replace("\n", " ")
        print(answer, flush=True)


if __name__ == "__main__":
    main()
