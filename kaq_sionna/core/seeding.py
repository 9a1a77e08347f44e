"""Deterministic seeds derived from a scenario's seed and tags."""

import hashlib


def derive_seed(seed, *tags):
    """A 31-bit seed derived deterministically from ``seed`` and any tags (str or int)."""
    text = "/".join(str(t) for t in (seed, *tags))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF
