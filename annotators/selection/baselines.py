"""The baselines mmSSR is compared with: random, DEITA (score-first, diversity-filtered), k-means.

All take an `eligible` mask and a resolved budget count and return a selected mask.
"""

from __future__ import annotations

import numpy as np

from annotators.selection.common import tie_positions

DEITA_CHUNK = 1024


def random_select(eligible: np.ndarray, budget: int, seed: int = 0) -> np.ndarray:
    pool = np.flatnonzero(eligible)
    chosen = np.random.default_rng(seed).choice(pool, size=min(budget, len(pool)), replace=False)
    selected = np.zeros(len(eligible), bool)
    selected[chosen] = True
    return selected


def mean_score(scores: np.ndarray) -> np.ndarray:
    """One quality number per sample: the mean of its scored capabilities (-inf when none)."""
    valid = ~np.isnan(scores)
    total = np.where(valid, scores, 0).sum(axis=1)
    count = valid.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), -np.inf)


def deita_select(quality: np.ndarray, vectors: np.ndarray, eligible: np.ndarray, budget: int,
                 tau: float = 0.9, seed: int = 0) -> np.ndarray:
    """Best score first; a sample joins only if its cosine similarity to every selected one is <= tau.

    quality: one score per sample (DEITA's complexity x quality, or a stand-in such as
    `mean_score`); -inf / NaN never joins.

    The greedy is exact but batched: a chunk of candidates is searched against the selected set
    in one faiss call, and the survivors are then resolved among themselves in score order.
    """
    import faiss

    quality = np.nan_to_num(np.asarray(quality, np.float64), nan=-np.inf)
    pool = np.flatnonzero(eligible & np.isfinite(quality))
    ties = tie_positions(len(eligible), seed)[pool]
    order = pool[np.lexsort((ties, -quality[pool]))]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    selected = np.zeros(len(eligible), bool)
    count = 0
    for start in range(0, len(order), DEITA_CHUNK):
        if count >= budget:
            break
        chunk = order[start:start + DEITA_CHUNK]
        if index.ntotal:
            nearest, _ = index.search(vectors[chunk], 1)
            chunk = chunk[nearest[:, 0] <= tau]
        within = vectors[chunk] @ vectors[chunk].T
        accepted: list[int] = []
        for position in range(len(chunk)):  # greedy order inside one chunk is inherently serial
            if count + len(accepted) >= budget:
                break
            if not accepted or within[position, accepted].max() <= tau:
                accepted.append(position)
        keep = chunk[accepted]
        index.add(vectors[keep])
        selected[keep] = True
        count += len(keep)
    return selected


def kmeans_select(vectors: np.ndarray, eligible: np.ndarray, budget: int, clusters: int | None = None,
                  seed: int = 0) -> np.ndarray:
    """faiss k-means on the embeddings, then each cluster sampled in proportion to its size."""
    import faiss

    pool = np.flatnonzero(eligible)
    selected = np.zeros(len(eligible), bool)
    budget = min(budget, len(pool))
    if budget == 0:
        return selected
    k = min(clusters or max(1, int(np.sqrt(len(pool)))), len(pool))
    data = np.ascontiguousarray(vectors[pool], dtype=np.float32)
    kmeans = faiss.Kmeans(data.shape[1], k, niter=20, seed=seed, verbose=False,
                          min_points_per_centroid=1)
    kmeans.train(data)
    _, assignment = kmeans.index.search(data, 1)
    assignment = assignment[:, 0]
    sizes = np.bincount(assignment, minlength=k)
    quotas = proportional_quotas(sizes, budget)
    rng = np.random.default_rng(seed)
    for cluster in np.flatnonzero(quotas):
        members = pool[assignment == cluster]
        selected[rng.choice(members, size=quotas[cluster], replace=False)] = True
    return selected


def proportional_quotas(sizes: np.ndarray, budget: int) -> np.ndarray:
    """Largest-remainder apportionment: quotas sum exactly to budget and never exceed a size."""
    exact = sizes * (budget / max(int(sizes.sum()), 1))
    quotas = np.minimum(np.floor(exact).astype(np.int64), sizes)
    short = budget - int(quotas.sum())
    remainder = np.where(quotas < sizes, exact - quotas, -1.0)
    for cluster in np.argsort(-remainder, kind="stable"):
        if short == 0:
            break
        if quotas[cluster] < sizes[cluster]:
            quotas[cluster] += 1
            short -= 1
    return quotas
