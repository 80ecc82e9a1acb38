"""Schemathesis hooks for the oracle's explorer API (scripts/schemathesis.sh).

The document's `hotspot-address` format: base58 of 37 bytes (version 1, an ed25519 public key,
the first four bytes of the double SHA-256 of those 33). A pattern cannot state the checksum or
that the key is a point of the curve, so valid addresses are made here from random 32-byte
strings that decode as points.
"""

import hashlib

import schemathesis
from hypothesis import strategies as st

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def is_point(key: bytes) -> bool:
    """Whether 32 bytes are the compressed encoding of a point of edwards25519."""
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= P:
        return False
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    if x2 == 0:
        return key[31] >> 7 == 0
    return pow(x2, (P - 1) // 2, P) == 1


def address(key: bytes) -> str:
    body = b"\x01" + key
    body += hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4]
    n = int.from_bytes(body, "big")
    text = ""
    while n:
        n, r = divmod(n, 58)
        text = ALPHABET[r] + text
    return text


schemathesis.openapi.format(
    "hotspot-address",
    st.binary(min_size=32, max_size=32).filter(is_point).map(address),
)
