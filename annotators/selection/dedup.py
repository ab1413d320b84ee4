"""Duplicate finding: exact content keys, near-duplicate images (DCT hash), SemDeDup on text.

Every finder returns `original`: for each item the index of the item it duplicates, or -1 when
it is kept. Items are expected in a deterministic order (the stage sorts by sample_id); the
earliest item of a group is the one kept, and `original` always points at a kept item.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HASH_SIDE = 32
HASH_LOW = 8
SEMDEDUP_BLOCK = 1024
NEIGHBOURS = 16


def follow_to_kept(parent: np.ndarray) -> np.ndarray:
    """Point every duplicate at the kept root of its chain (parent[i] < i, or -1 when kept)."""
    parent = parent.copy()
    while True:
        has_parent = parent >= 0
        grand = np.where(has_parent, parent[np.maximum(parent, 0)], -1)
        hop = has_parent & (grand >= 0)
        if not hop.any():
            return parent
        parent[hop] = grand[hop]


def exact_duplicates(keys: list[str]) -> np.ndarray:
    """Items with the same key as an earlier one point at its first occurrence."""
    first: dict[str, int] = {}
    original = np.full(len(keys), -1, np.int64)
    for index, key in enumerate(keys):  # a dict lookup per item; nothing in numpy does this faster
        original[index] = first.setdefault(key, index)
    original[original == np.arange(len(keys))] = -1
    return original


def dct_hash(pixels: np.ndarray) -> np.ndarray:
    """pHash: 64 bits from the low 8x8 DCT frequencies of a 32x32 grey thumbnail (uint8[8])."""
    grey = Image.fromarray(pixels).convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BILINEAR)
    low = dctn(np.asarray(grey, np.float32), norm="ortho")[:HASH_LOW, :HASH_LOW].ravel()
    return np.packbits(low > np.median(low[1:]))


def near_duplicate_images(hashes: np.ndarray, max_bits: int) -> np.ndarray:
    """Groups of images whose hashes differ in <= max_bits bits (transitively); earliest kept."""
    import faiss

    n = len(hashes)
    original = np.full(n, -1, np.int64)
    if n < 2:
        return original
    index = faiss.IndexBinaryFlat(hashes.shape[1] * 8)
    codes = np.ascontiguousarray(hashes, dtype=np.uint8)
    index.add(codes)
    distances, neighbours = index.search(codes, min(NEIGHBOURS, n))
    rows = np.repeat(np.arange(n), neighbours.shape[1])
    cols = neighbours.ravel()
    close = (distances.ravel() <= max_bits) & (cols >= 0) & (cols != rows)
    graph = coo_matrix((np.ones(close.sum()), (rows[close], cols[close])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    earliest = np.full(component.max() + 1, n, np.int64)
    np.minimum.at(earliest, component, np.arange(n))
    root = earliest[component]
    original[root != np.arange(n)] = root[root != np.arange(n)]
    return original


def _earlier_similar(vectors: np.ndarray, members: np.ndarray, threshold: float,
                     parent: np.ndarray) -> None:
    """Inside one group: parent[i] = the most similar earlier member when similarity > threshold."""
    for start in range(0, len(members), SEMDEDUP_BLOCK):
        rows = members[start:start + SEMDEDUP_BLOCK]
        if start + len(rows) < 2:
            continue
        similarity = vectors[rows] @ vectors[members[:start + len(rows)]].T
        # only earlier members count: mask the diagonal and everything after it
        later = np.arange(similarity.shape[1])[None, :] >= (start + np.arange(len(rows)))[:, None]
        similarity[later] = -np.inf
        best = similarity.argmax(axis=1)
        duplicate = similarity[np.arange(len(rows)), best] > threshold
        parent[rows[duplicate]] = members[best[duplicate]]


def semantic_duplicates(vectors: np.ndarray, eps: float, clusters: int | None = None,
                        seed: int = 0) -> np.ndarray:
    """SemDeDup: faiss k-means, then inside each cluster drop an item whose cosine similarity to
    an earlier one exceeds 1 - eps. Vectors must be L2-normalised."""
    import faiss

    n = len(vectors)
    parent = np.full(n, -1, np.int64)
    if n < 2:
        return parent
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    k = min(clusters or max(1, int(np.sqrt(n))), n)
    kmeans = faiss.Kmeans(data.shape[1], k, niter=20, seed=seed, verbose=False,
                          spherical=True, min_points_per_centroid=1)
    kmeans.train(data)
    _, assignment = kmeans.index.search(data, 1)
    assignment = assignment[:, 0]
    order = np.argsort(assignment, kind="stable")  # members of a cluster stay in item order
    bounds = np.flatnonzero(np.diff(assignment[order])) + 1
    for members in np.split(order, bounds):
        if len(members) > 1:
            _earlier_similar(data, members, 1.0 - eps, parent)
    return follow_to_kept(parent)


def brute_force_duplicates(vectors: np.ndarray, eps: float) -> np.ndarray:
    """The exact reference: every item against every earlier item, in row blocks."""
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    parent = np.full(len(data), -1, np.int64)
    _earlier_similar(data, np.arange(len(data)), 1.0 - eps, parent)
    return follow_to_kept(parent)
