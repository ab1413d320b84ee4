"""mmSSR selection on synthetic scored samples: ours (vectorised) vs a straightforward pandas version.

Both implement the same algorithm (annotators/selection/mmssr.py docstring) with the same tie
order, so their selections must be equal. Prints both times, the ratio and peak memory.

    .venv/bin/python benchmarks/bench_select.py [--samples 1000000] [--ratio 0.3]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import pandas as pd

from annotators.selection.common import tie_positions
from annotators.selection.mmssr import mmssr_select

SOURCES = ["coco", "textvqa", "chartqa", "sharegpt4v", "ai2d", "docvqa"]


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(n, 14)).astype(np.float32)
    scores[rng.random((n, 14)) < 0.02] = np.nan  # a few unparseable judge answers
    style_combos = 24  # a realistic number of distinct multi-label style combinations
    bins = rng.integers(0, style_combos, n) * len(SOURCES) + rng.integers(0, len(SOURCES), n)
    return scores, bins.astype(np.int64)


def pandas_select(scores: np.ndarray, bins: np.ndarray, budget: int, threshold: float,
                  seed: int) -> np.ndarray:
    """The algorithm written plainly: filter, sort and group the pool again at every turn."""
    frame = pd.DataFrame(scores, columns=[f"c{j}" for j in range(scores.shape[1])])
    frame["bin"] = bins
    frame["tie"] = tie_positions(len(frame), seed)
    frame["taken"] = False
    capabilities = [c for c in range(scores.shape[1]) if (frame[f"c{c}"] > threshold).any()]
    count = 0
    while count < budget and capabilities:
        per = max((budget - count) // len(capabilities), 1)
        for c in list(capabilities):
            if count >= budget:
                break
            slots = min(per, budget - count)
            column = f"c{c}"
            pool = frame[~frame["taken"] & (frame[column] > threshold)]
            pool = pool.sort_values([column, "tie"], ascending=[False, True])
            sizes = pool.groupby("bin").size().reset_index(name="size")
            sizes = sizes.sort_values(["size", "bin"])
            quota = max(slots // len(sizes), 1) if len(sizes) else 0
            carry, left, picks = 0, slots, []
            for position, (bin_id, size) in enumerate(zip(sizes["bin"], sizes["size"], strict=True)):
                allow = left if position == len(sizes) - 1 else min(quota + carry, left)
                take = min(allow, size)
                picks.append(pool.index[pool["bin"] == bin_id][:take])
                carry, left = allow - take, left - take
                if left == 0:
                    break
            chosen = np.concatenate(picks) if picks else np.zeros(0, np.int64)
            if len(chosen) == 0:
                capabilities.remove(c)
                continue
            frame.loc[chosen, "taken"] = True
            count += len(chosen)
    return frame["taken"].to_numpy()


def timed(fn, *args, **kwargs):
    tracemalloc.start()
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--ratio", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scores, bins = synthetic(args.samples, args.seed)
    budget = int(args.samples * args.ratio)
    (ours, _), ours_s, ours_peak = timed(mmssr_select, scores, bins, budget, seed=args.seed)
    reference, pandas_s, pandas_peak = timed(pandas_select, scores, bins, budget, 0.0, args.seed)
    equal = bool(np.array_equal(ours, reference))
    print(f"samples={args.samples:,} budget={budget:,} selected ours={int(ours.sum()):,} "
          f"pandas={int(reference.sum()):,}")
    print(f"ours (vectorised numpy): {ours_s:8.2f} s  peak {ours_peak / 2**20:8.1f} MiB")
    print(f"pandas reference       : {pandas_s:8.2f} s  peak {pandas_peak / 2**20:8.1f} MiB")
    print(f"speed-up {pandas_s / ours_s:.1f}x   selections equal: {equal}   "
          f"target ours <= 10 s: {'met' if ours_s <= 10 else 'MISSED'}")
    if not equal:
        raise SystemExit("selections differ")


if __name__ == "__main__":
    main()
