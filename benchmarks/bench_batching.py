"""Batched LMM generation vs one sample at a time, and the cache-hit speed-up on a re-run.

The reference scripts (mmSSR, LG-MOT) call the model once per sample. Here the same tiny LLaVA
(random weights, built on the spot, no download) answers the same requests at batch 1, 4 and 16
through the transformers backend, side by side in one process; then a describe pass over
synthetic scenes runs twice through the on-disk cache.

    .venv/bin/python benchmarks/bench_batching.py [--requests 32] [--new-tokens 16]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from annotators.backends import Request, make_backend, user_message
from annotators.backends.cache import CachedBackend, GenerationCache
from annotators.backends.tiny_model import build_tiny_llava
from annotators.describe.describer import ImageDescriber, ImageItem
from annotators.synthetic import generate_scene
from schemas.masks import area, bbox, encode_array


def requests(n: int) -> list[Request]:
    rng = np.random.default_rng(0)
    return [Request(messages=[user_message(f"Describe the object in image {i} in detail.", 1)],
                    images=[rng.integers(0, 255, size=(64, 64, 3), dtype=np.uint8)])
            for i in range(n)]


def throughput(model_dir: Path, batch: int, items: list[Request], new_tokens: int) -> float:
    backend = make_backend("transformers", model=str(model_dir), max_new_tokens=new_tokens,
                           max_batch_size=batch)
    backend.generate(items[:batch])  # warm-up
    started = time.perf_counter()
    if batch == 1:  # what the reference scripts do: one call per sample
        for item in items:
            backend.generate([item])
    else:
        backend.generate(items)
    return len(items) / (time.perf_counter() - started)


def scene_items(n: int) -> list[ImageItem]:
    items = []
    for seed in range(n):
        scene = generate_scene(seed, (96, 96))
        segments = []
        for node in scene.nodes():
            if node.level > 1:
                continue
            rle = encode_array(node.mask)
            segments.append({"segment_id": f"{seed}-{node.node_id}", "level": node.level, "mask": rle,
                             "parent_id": f"{seed}-{node.parent.node_id}" if node.parent else None,
                             "bbox": bbox(rle), "area": area(rle), "category": node.name})
        items.append(ImageItem(f"img{seed}", scene.pixels, segments, "synthetic"))
    return items


def cache_speedup(model_dir: Path, cache_path: Path, new_tokens: int) -> tuple[float, float, int]:
    items = scene_items(4)
    timings = []
    for _ in range(2):
        backend = CachedBackend(make_backend("transformers", model=str(model_dir),
                                             max_new_tokens=new_tokens), GenerationCache(cache_path))
        started = time.perf_counter()
        ImageDescriber(backend, max_retries=1).describe(items)
        timings.append(time.perf_counter() - started)
        hits = backend.hits
    return timings[0], timings[1], hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_llava(Path(tmp) / "tiny-llava")
        items = requests(args.requests)
        rates = {b: throughput(model_dir, b, items, args.new_tokens) for b in (1, 4, 16)}
        print(f"{'batch':>5} {'requests/s':>11} {'vs batch 1':>10}")
        for batch, rate in rates.items():
            print(f"{batch:>5} {rate:>11.1f} {rate / rates[1]:>9.1f}x")
        cold, warm, hits = cache_speedup(model_dir, Path(tmp) / "cache.sqlite", args.new_tokens)
        print(f"describe 4 scenes: first run {cold:.2f}s, re-run {warm:.2f}s "
              f"({cold / warm:.1f}x faster, {hits} cache hits)")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
