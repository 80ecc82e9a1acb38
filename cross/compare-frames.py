#!/usr/bin/env python3
"""Compares two `hotspot decode` outputs (one JSON object a line): the same frames in the same
order, every field equal, except that floating-point measurements (SNR, RSSI, CFO) may differ in
their last bits between architectures (SIMD FFT paths and libm differ), up to 1e-4 relative.
Usage: compare-frames.py EXPECTED ACTUAL; exits 1 and prints the differences otherwise."""
import json
import math
import sys


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return a == b
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-4, abs_tol=1e-4)
        except (TypeError, ValueError):
            return False
    return a == b


def main():
    expected_path, actual_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        expected = [json.loads(line) for line in f if line.strip()]
    with open(actual_path) as f:
        actual = [json.loads(line) for line in f if line.strip()]
    problems = []
    if len(expected) != len(actual):
        problems.append(f"{len(actual)} frames, expected {len(expected)}")
    for index, (want, got) in enumerate(zip(expected, actual)):
        for key in sorted(set(want) | set(got)):
            if key not in want or key not in got or not same(want[key], got[key]):
                problems.append(f"frame {index} {key}: {got.get(key)!r}, expected {want.get(key)!r}")
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
