"""The `unsamv2` hierarchy source against `superpixel` and the scikit-image reference tree.

On seeded synthetic scenes with a known object -> part -> subpart hierarchy (512x512): hierarchy
recall@0.75 (and mean best IoU) of every source's masks against the known masks, masks per image,
and CPU seconds per image (process time, so the shared machine's load does not inflate it; all
methods run interleaved on each image). unsamv2 runs with colour features (no weights) at the
reference's instance rule (> 5% of the image) and, as a separately named variant, at our
superpixel cut's 0.5%, which shows what the 5% rule alone costs on scenes of small objects.
Recall is given twice: over every known mask, and over the objects the reference's instance
rule admits (> 5% of the image) with their parts and subparts ("recall@0.75 >5%"): the reference
method, by design, proposes nothing for a smaller object.
Targets: unsamv2 <= 2x superpixel time, recall not below superpixel.

    PYTHONPATH=. python benchmarks/bench_unsamv2_source.py [--scenes 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from annotators.masks.evaluation import hierarchical_recall
from annotators.masks.superpixel import SuperpixelSource
from annotators.masks.unsamv2 import UnsamV2Source
from annotators.masks.unsamv2_rules import INSTANCE_MIN_SHARE
from annotators.synthetic import generate_scene
from schemas.masks import encode_array
from schemas.options.masks import UnsamV2Options

SIZE = (512, 512)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_superpixel import reference_masks, reference_tree

    methods = {
        "superpixel": lambda px: [n.rle for n in SuperpixelSource().build(px).nodes],
        "unsamv2 (colour, 5%)": lambda px: [n.rle for n in UnsamV2Source(
            UnsamV2Options(), SuperpixelSource()).build(px).nodes],
        "unsamv2 (colour, 0.5%)": lambda px: [n.rle for n in UnsamV2Source(
            UnsamV2Options(instance_min_share=0.005), SuperpixelSource()).build(px).nodes],
        "skimage reference tree": lambda px: reference_masks(*reference_tree(px)),
    }
    warm = generate_scene(99, size=(128, 128)).pixels
    for method in methods.values():
        method(warm)
    seconds = dict.fromkeys(methods, 0.0)
    results: dict[str, list] = {name: [] for name in methods}
    for seed in range(args.scenes):
        scene = generate_scene(seed, size=SIZE)
        gt = [(encode_array(node.mask), node.level) for node in scene.nodes()]
        admitted = [(encode_array(node.mask), node.level) for node in scene.nodes()
                     if _root(node).area > INSTANCE_MIN_SHARE * SIZE[0] * SIZE[1]]
        for name, method in methods.items():
            started = time.process_time()
            rles = method(scene.pixels)
            seconds[name] += (time.process_time() - started) / args.scenes
            big = hierarchical_recall(admitted, rles)["overall"] if admitted else None
            results[name].append((hierarchical_recall(gt, rles)["overall"], len(rles), big))
    base = seconds["superpixel"]
    print(f"{args.scenes} synthetic scenes at {SIZE[1]}x{SIZE[0]}; CPU s/image (process time)")
    print(f"{'method':>24} {'s/image':>8} {'x superpixel':>12} {'recall@0.75':>11} "
          f"{'mean IoU':>8} {'masks':>6} {'recall@0.75 >5%':>15}")
    for name, rows in results.items():
        recall = np.mean([r["recall@0.75"] for r, _, _ in rows])
        iou = np.mean([r["mean_iou"] for r, _, _ in rows])
        big = [b["recall@0.75"] for _, _, b in rows if b is not None]
        print(f"{name:>24} {seconds[name]:8.3f} {seconds[name] / base:11.2f}x {recall:11.3f} "
              f"{iou:8.3f} {np.mean([n for _, n, _ in rows]):6.0f} "
              f"{np.mean(big) if big else float('nan'):15.3f}")


def _root(node):
    while node.parent is not None:
        node = node.parent
    return node


if __name__ == "__main__":
    main()
