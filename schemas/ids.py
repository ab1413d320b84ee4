"""Stable identifiers: the same input always gets the same id, across runs and machines.

Every id recipe of the contract lives here, so a producer never invents its own. Two recipes
exist per row kind on purpose, because the two kinds of producer know different things:
- rows read from a source dataset are keyed by the source's own key (annotation id, record
  position): re-ingesting the same file gives the same ids even if a mask re-encodes, and two
  annotations with identical masks stay two rows;
- rows a model or rule derives have no source key, so their id hashes what defines them (the
  mask and its place in the tree; the question and the masks a caption grounds).
Changing a recipe changes every stored id of that kind: resumed runs and references break.
"""

from __future__ import annotations

import hashlib


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stable_id(*parts: object) -> str:
    """A 16-hex id from the parts' text, for segments, pairs, samples and descriptions."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:16]


def ingested_segment_id(source: str, image_id: str, key: object) -> str:
    """A `segments` row read from `source`: keyed by the source's own key for the mask."""
    return stable_id(source, image_id, "segment", key)


def derived_segment_id(image_id: str, mask_source: str, counts: str, parent: int | None,
                       level: int) -> str:
    """A `segments` row a mask source proposed: its RLE counts and its place in the forest
    (`parent` is the parent's index in the image's forest, None for an instance)."""
    return stable_id(image_id, mask_source, counts, parent, level)


def ingested_sample_id(source: str, image_id: str, task: str, key: object) -> str:
    """A `segcap` row read from `source`: keyed by the source's own key for the sample."""
    return stable_id(source, image_id, task, key)


def described_sample_id(image_id: str, task: str, granularity: str, subtree: str | None,
                        question: str, segment_ids: list[str]) -> str:
    """A `segcap` row `describe` wrote: what was asked about which masks (not the answer text,
    so the same question about the same masks keeps its id whichever model answered)."""
    return stable_id("segcap", image_id, task, granularity, subtree or "", question,
                     "|".join(segment_ids))
