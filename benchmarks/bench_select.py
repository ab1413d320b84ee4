"""mmSSR selection speed: ours (vectorised numpy) vs the reference's pandas loop, side by side.

The reference loop is the standalone port in `bench_mmssr_fidelity.py` (with the three documented
fixes), which re-sorts, melts and groups the pool for every capability at every round. Both run
on the same synthetic pool; their selections must be equal. Prints both times, the ratio, peak
memory, and the time of ours alone on a large pool.

    .venv/bin/python benchmarks/bench_select.py [--samples 50000] [--big 1000000] [--ratio 0.3]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from bench_mmssr_fidelity import CAPS, large_pool, ratings_frame, reference_select  # sibling script

from annotators.selection.mmssr import mmssr_select, style_bins


def timed(fn, *args, **kwargs):
    tracemalloc.start()
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def ours(scores, styles, sources, budget):
    return mmssr_select(scores, style_bins(styles, sources), budget).selected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--ratio", type=float, default=0.3)
    args = parser.parse_args()
    scores, styles, sources = large_pool(args.samples)
    budget = int(args.samples * args.ratio)
    mine, ours_s, ours_peak = timed(ours, scores, styles, sources, budget)
    frame = ratings_frame(scores, styles.to_pylist(), sources.to_pylist())
    ref, ref_s, ref_peak = timed(reference_select, frame, CAPS, budget)
    equal = set(np.flatnonzero(mine).tolist()) == ref
    print(f"samples={args.samples:,} budget={budget:,}")
    print(f"ours (vectorised numpy): {ours_s:8.2f} s  peak {ours_peak / 2**20:8.1f} MiB")
    print(f"reference pandas loop  : {ref_s:8.2f} s  peak {ref_peak / 2**20:8.1f} MiB")
    print(f"speed-up {ref_s / ours_s:.1f}x   selections equal: {equal}")
    scores, styles, sources = large_pool(args.big, seed=1)
    selected, big_s, big_peak = timed(ours, scores, styles, sources, int(args.big * args.ratio))
    print(f"ours on {args.big:,} samples: {big_s:.2f} s, peak {big_peak / 2**20:.0f} MiB, "
          f"{int(selected.sum()):,} selected")
    if not equal:
        raise SystemExit("selections differ")


if __name__ == "__main__":
    main()
