"""Pair mining cost against the hierarchy it mines, before and after run-length mining.

For each size (512x512, 1920x1080, 4000x3000; synthetic scenes), every mode runs in a fresh child
process so that its peak RSS is its own, one after the other in this one run:

- `hierarchy`: the superpixel forest alone, as `segcap mine` builds it (an image over the 4.19 MP
  budget is mined downscaled and its masks scaled back up);
- `before`: the old code path (frozen copy in old_mining_frozen.py: full-size `decode_many` of
  every mask, Euclidean instance erosion, full-size upscaling stack), hierarchy + pairs;
- `after unsamv2` / `after graco`: the current path (masks read as runs, GraCo proposal clicks;
  graco adds residual proposals), hierarchy + pairs;
- `after instance_path`: the kept old click rule on the new path (its pairs must equal `before`).

Times are CPU seconds per image (process time: the shared machine's load inflates it less than
wall time) and wall seconds; `x hier` is (hierarchy + pairs) / hierarchy with both measured in
the same process on the same images. RSS is the child's peak (VmHWM) and, for reference, its
peak after imports and a warm-up.
The old path at 4000x3000 runs under an address-space cap (--cap-gb) and is reported as failed
when it exceeds it.

    PYTHONPATH=. python benchmarks/bench_mining.py [--images 2] [--sizes 512x512,1920x1080,4000x3000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

POINTS, MIN_AREA, SEED = 3, 64, 0


def _rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    across fork + exec, so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(mode: str, image_paths: list[str], cap_gb: float, queue) -> None:
    """One mode in a child process: build (and mine) every image, report time and peak RSS."""
    if cap_gb:
        cap = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.path.insert(0, str(Path(__file__).parent))
    import old_mining_frozen as old

    from annotators.masks.mining import mine_pairs
    from annotators.masks.superpixel import SuperpixelSource
    from pipelines.stages import mine as stage
    from schemas.budgets import MINING_MAX_PIXELS

    source = SuperpixelSource()
    warm = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    mine_pairs(source.build(warm), "warm", definition="graco", points=1, seed=0, min_area=4)
    old.mine_pairs(source.build(warm), "warm", definition="graco", points=1, seed=0, min_area=4)
    baseline = _rss_mb()
    cpu = wall = hier_cpu = 0.0
    pairs = 0
    try:
        for path in image_paths:
            pixels = np.load(path)
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            if mode == "before":
                original, stage.upscale_forest = stage.upscale_forest, old.upscale_forest
                try:
                    forest = stage.build_forest(source, pixels, MINING_MAX_PIXELS, Counter())
                finally:
                    stage.upscale_forest = original
                hier_cpu += time.process_time() - start_cpu
                pairs += len(old.mine_pairs(forest, path, definition="unsamv2", points=POINTS,
                                            seed=SEED, min_area=MIN_AREA).pairs)
            else:
                forest = stage.build_forest(source, pixels, MINING_MAX_PIXELS, Counter())
                hier_cpu += time.process_time() - start_cpu
                if mode != "hierarchy":
                    definition, clicks = {"after unsamv2": ("unsamv2", "proposal"),
                                          "after graco": ("graco", "proposal"),
                                          "after instance_path": ("unsamv2", "instance_path")}[mode]
                    pairs += len(mine_pairs(forest, path, definition=definition, points=POINTS,
                                            seed=SEED, min_area=MIN_AREA, clicks=clicks).pairs)
            cpu += time.process_time() - start_cpu
            wall += time.perf_counter() - start_wall
            del pixels, forest
    except MemoryError:
        queue.put({"mode": mode, "failed": f"MemoryError under the {cap_gb:g} GB cap"})
        return
    n = len(image_paths)
    queue.put({"mode": mode, "cpu": cpu / n, "wall": wall / n, "hier": hier_cpu / n, "peak": _rss_mb(),
               "baseline": baseline, "pairs": pairs / n})


def measure(mode: str, image_paths: list[str], cap_gb: float) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_run, args=(mode, image_paths, cap_gb, queue))
    child.start()
    child.join()
    if queue.empty():
        return {"mode": mode, "failed": f"child exited with {child.exitcode}"}
    return queue.get()


def instance_path_agrees(pixels: np.ndarray) -> bool:
    """The kept instance_path rule on the new path gives exactly the old pairs."""
    sys.path.insert(0, str(Path(__file__).parent))
    import old_mining_frozen as old

    from annotators.masks.mining import mine_pairs
    from annotators.masks.superpixel import SuperpixelSource

    forest = SuperpixelSource().build(pixels)
    before = old.mine_pairs(forest, "x", definition="graco", points=5, seed=1, min_area=MIN_AREA)
    after = mine_pairs(forest, "x", definition="graco", points=5, seed=1, min_area=MIN_AREA,
                       clicks="instance_path")
    strip = [{k: v for k, v in p.items() if k != "is_residual"} for p in after.pairs]
    return strip == before.pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2, help="images per size (1 at 4000x3000)")
    parser.add_argument("--sizes", default="512x512,1920x1080,4000x3000")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="address-space cap of a child")
    parser.add_argument("--modes", default="hierarchy,before,after unsamv2,after graco,after instance_path")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from annotators.synthetic import generate_scene

    modes = args.modes.split(",")
    print(f"{'size':>10} {'mode':>20} {'cpu s/img':>10} {'of which hier':>13} {'x hier':>7} "
          f"{'wall s/img':>10} {'peak RSS MB':>11} {'after imports':>13} {'pairs/img':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            count = 1 if width * height > 8_000_000 else args.images
            paths = []
            for seed in range(count):
                path = Path(tmp) / f"{size}-{seed}.npy"
                np.save(path, generate_scene(seed + 1, size=(height, width)).pixels)
                paths.append(str(path))
            for mode in modes:
                result = measure(mode, paths, args.cap_gb)
                if "failed" in result:
                    print(f"{size:>10} {mode:>20} {result['failed']}")
                    continue
                # the ratio uses the hierarchy time measured in the same process, on the same images
                print(f"{size:>10} {mode:>20} {result['cpu']:10.3f} {result['hier']:13.3f} "
                      f"{result['cpu'] / result['hier']:6.2f}x {result['wall']:10.3f} "
                      f"{result['peak']:11.0f} {result['baseline']:13.0f} {result['pairs']:9.0f}",
                      flush=True)
        agree = instance_path_agrees(generate_scene(4, size=(256, 256)).pixels)
        print(f"instance_path on the new path == the old pairs (256x256 scene): {agree}")


if __name__ == "__main__":
    main()
