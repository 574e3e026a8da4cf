"""Stable, cloud-like resource ids derived from Kubernetes uids (``eci-…`` instances, ``imc-…`` caches).

Derived, not random, so a restarted operator names the same resource the same way (pure; no I/O).
"""

from __future__ import annotations

import hashlib

_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def cloud_id(prefix: str, uid: str, *, length: int = 16) -> str:
    """``prefix-`` + ``length`` base-36 characters from the uid's SHA-256."""
    n = int.from_bytes(hashlib.sha256(uid.encode()).digest()[:12], "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, 36)
        out.append(_CHARS[r])
    return f"{prefix}-" + "".join(out)
