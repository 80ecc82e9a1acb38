#!/usr/bin/env python3
"""Writes cross/testdata/sf7-os2.cu8: LoRa frames as an RTL-SDR-style recording.

Three SF7/125 kHz frames at 250 kS/s (oversampling 2) modulated by `lora-iq encode` (cf32), each
with its own carrier offset and level, placed between stretches of noise, plus white Gaussian
noise over the whole recording, then quantised to unsigned 8-bit IQ (cu8). Fixed seed, so the
file is reproducible. Usage: make-recording.py PATH/TO/lora-iq OUT.cu8 (needs numpy).
"""
import subprocess
import sys

import numpy as np

LORA_IQ, OUT = sys.argv[1], sys.argv[2]
SAMPLE_RATE = 250_000
FRAMES = [  # payload text, carrier offset (Hz), amplitude relative to the noise
    ("cross-check frame one", 3_000.0, 2.0),
    ("second frame, lower", -7_500.0, 0.8),
    ("third", 12_000.0, 4.0),
]

rng = np.random.default_rng(20261125)
pieces = [np.zeros(9_000, np.complex64)]
for text, cfo, amplitude in FRAMES:
    raw = subprocess.run(
        [LORA_IQ, "encode", "--sf", "7", "--bw", "125000", "--os", "2", "--format", "cf32",
         "--payload-text", text, "--out", "-"],
        check=True, capture_output=True).stdout
    frame = np.frombuffer(raw, np.complex64)
    t = np.arange(frame.size) / SAMPLE_RATE
    pieces.append((amplitude * frame * np.exp(2j * np.pi * cfo * t)).astype(np.complex64))
    pieces.append(np.zeros(int(rng.integers(6_000, 12_000)), np.complex64))
signal = np.concatenate(pieces)
noise = (rng.standard_normal(signal.size) + 1j * rng.standard_normal(signal.size)) / np.sqrt(2)
mixed = (signal + noise) * 20.0  # noise at ~20 counts rms in the 8-bit range
iq = np.empty(2 * mixed.size, np.float64)
iq[0::2], iq[1::2] = mixed.real, mixed.imag
np.clip(np.round(iq + 127.5), 0, 255).astype(np.uint8).tofile(OUT)
print(f"{OUT}: {mixed.size} samples, {len(FRAMES)} frames")
