"""Semantic dedup of 384-d vectors: SemDeDup (faiss k-means + within-cluster threshold) vs numpy
brute force (every vector against every earlier one, in row blocks). Same process, side by side.

Prints both times, the ratio, peak memory (RSS high-water mark, reset between the two), and how
many of the brute-force duplicates SemDeDup finds (it only compares inside clusters).

    .venv/bin/python benchmarks/bench_dedup.py [--vectors 200000] [--eps 0.05]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from annotators.selection.dedup import brute_force_duplicates, semantic_duplicates


def reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM, so each run gets its own high-water mark.
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic(n: int, d: int = 384, duplicate_share: float = 0.1, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (like sentence embeddings) with planted near-duplicates."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(512, d)).astype(np.float32)
    vectors = centres[rng.integers(0, 512, n)] + rng.normal(0, 1.0, (n, d)).astype(np.float32)
    copies = rng.choice(n, int(n * duplicate_share), replace=False)
    sources = rng.integers(0, n, len(copies))
    vectors[copies] = vectors[sources] + rng.normal(0, 0.05, (len(copies), d)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def timed(fn, *args, **kwargs):
    reset_peak_rss()
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started, peak_rss_mib()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--eps", type=float, default=0.05)
    parser.add_argument("--clusters", type=int, default=None)
    args = parser.parse_args()
    vectors = synthetic(args.vectors)
    base = peak_rss_mib()
    ours, ours_s, ours_peak = timed(semantic_duplicates, vectors, args.eps, args.clusters)
    brute, brute_s, brute_peak = timed(brute_force_duplicates, vectors, args.eps)
    found_brute = brute >= 0
    found_ours = ours >= 0
    # SemDeDup keeps the hardest member of a group and brute force the earliest, so compare group
    # membership (removed, or the original something points at), not which member was removed
    grouped_brute = found_brute | np.isin(np.arange(len(brute)), brute[found_brute])
    grouped_ours = found_ours | np.isin(np.arange(len(ours)), ours[found_ours])
    recall = (grouped_ours & grouped_brute).sum() / max(grouped_brute.sum(), 1)
    false_found = (grouped_ours & ~grouped_brute).sum()
    print(f"vectors={args.vectors:,} dim={vectors.shape[1]} eps={args.eps} (data+libs RSS {base:.0f} MiB)")
    print(f"SemDeDup (faiss k-means): {ours_s:8.2f} s  peak RSS {ours_peak:8.0f} MiB  "
          f"duplicates {found_ours.sum():,}")
    print(f"numpy brute force       : {brute_s:8.2f} s  peak RSS {brute_peak:8.0f} MiB  "
          f"duplicates {found_brute.sum():,}")
    print(f"speed-up {brute_s / ours_s:.1f}x   recall of brute-force duplicate groups {recall:.3f}   "
          f"grouped only by SemDeDup {false_found}")


if __name__ == "__main__":
    main()
