"""Duplicate finding: exact content keys, near-duplicate images (DCT hash), SemDeDup on text.

Every finder returns `original`: for each item the index of the item it duplicates, or -1 when
it is kept. Items are expected in a deterministic order (the stage sorts by sample_id); exact and
image finders keep the earliest item of a group, SemDeDup keeps the first in its keep order
(hardest by default, as the reference); `original` always points at a kept item.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

HASH_SIDE = 32
HASH_LOW = 8
SEMDEDUP_BLOCK = 1024
SEMDEDUP_NITER = 100
SEMDEDUP_SEED = 1234
NEIGHBOURS = 16


def follow_to_kept(parent: np.ndarray) -> np.ndarray:
    """Point every duplicate at the kept root of its chain (parent[i] = an item considered before
    i, or -1 when kept; chains never loop)."""
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
    from scipy.fft import dctn  # here, not at the top: `segcap --help` imports every stage

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
    from scipy.sparse import coo_matrix  # here: scipy costs `segcap --help` a third of a second
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(close.sum()), (rows[close], cols[close])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    earliest = np.full(component.max() + 1, n, np.int64)
    np.minimum.at(earliest, component, np.arange(n))
    root = earliest[component]
    original[root != np.arange(n)] = root[root != np.arange(n)]
    return original


def _earlier_similar(vectors: np.ndarray, members: np.ndarray, threshold: float,
                     parent: np.ndarray) -> None:
    """Inside one group, in the order given: parent[i] = the most similar EARLIER member when that
    similarity exceeds threshold (whether or not that member is itself a duplicate)."""
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


def spherical_kmeans(vectors: np.ndarray, clusters: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SemDeDup's clustering: faiss spherical k-means, niter 100, seed 1234 (the reference's
    settings). Returns (cluster of each item, cosine distance 1 - cos to its centroid)."""
    import faiss

    data = np.ascontiguousarray(vectors, dtype=np.float32)
    k = min(clusters or max(1, int(np.sqrt(len(data)))), len(data))
    kmeans = faiss.Kmeans(data.shape[1], k, niter=SEMDEDUP_NITER, seed=SEMDEDUP_SEED, verbose=False,
                          spherical=True, min_points_per_centroid=1)
    kmeans.train(data)
    _, assignment = kmeans.index.search(data, 1)
    assignment = assignment[:, 0]
    centroids = kmeans.centroids / np.maximum(np.linalg.norm(kmeans.centroids, axis=1, keepdims=True), 1e-12)
    distance = 1.0 - (data * centroids[assignment]).sum(axis=1)
    return assignment, distance


def keep_order(assignment: np.ndarray, distance: np.ndarray, keep: str, seed: int = 0) -> np.ndarray:
    """Items grouped by cluster, each cluster in the order its members are considered: `hardest`
    (farthest from the centroid first: SemDeDup's keep_hard, the default), `easiest` (closest
    first) or `random` (seeded). Equal distances: item order."""
    n = len(assignment)
    if keep == "hardest":
        within = -distance
    elif keep == "easiest":
        within = distance
    elif keep == "random":
        within = np.random.default_rng(seed).permutation(n).astype(np.float64)
    else:
        raise ValueError(f"keep must be hardest, easiest or random, not {keep!r}")
    return np.lexsort((np.arange(n), within, assignment))


def semantic_duplicates(vectors: np.ndarray, eps: float, clusters: int | None = None,
                        seed: int = 0, keep: str = "hardest", groups: np.ndarray | None = None) -> np.ndarray:
    """SemDeDup: spherical k-means, then inside each cluster, in `keep` order, an item is a
    duplicate when its cosine similarity to an earlier one exceeds 1 - eps; so the member kept
    from a group of near-duplicates is the first in that order (by default the hardest).
    Vectors must be L2-normalised. `seed` orders the `random` keep rule only. `groups` (int per
    item, e.g. the image): items are compared only inside the same group as well."""
    n = len(vectors)
    parent = np.full(n, -1, np.int64)
    if n < 2:
        return parent
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    assignment, distance = spherical_kmeans(data, clusters)
    if groups is not None:  # one comparison set per (cluster, group); clusters stay in order
        _, assignment = np.unique(np.stack([assignment, np.asarray(groups)]), axis=1, return_inverse=True)
        assignment = assignment.ravel()
    order = keep_order(assignment, distance, keep, seed)
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
