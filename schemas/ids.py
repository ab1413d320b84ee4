"""Stable identifiers: the same input always gets the same id, across runs and machines."""

from __future__ import annotations

import hashlib


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stable_id(*parts: object) -> str:
    """A 16-hex id from the parts' text, for segments, pairs, samples and descriptions."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:16]
