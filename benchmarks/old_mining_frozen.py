"""FROZEN copy of the pair mining before run-length mining (git 075784d, annotators/masks/mining.py
and pipelines/stages/mine.py:upscale_forest), kept only so benchmarks/bench_mining.py can run the old
path side by side with the new one. Do not use or change it.
"""
# ruff: noqa

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import distance_transform_edt

from annotators.masks.forest import MaskForest
from annotators.masks.granularity import granularity
from schemas import masks as codec
from schemas.ids import stable_id
from schemas.masks import decode_many, encode_stack


@dataclass
class MiningResult:
    forest: MaskForest
    pairs: list[dict] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)


def rng_for(seed: int, image_id: str) -> np.random.Generator:
    return np.random.default_rng(int(stable_id("mine", seed, image_id), 16))


def prune(forest: MaskForest, min_area: int, iou_merge: float) -> tuple[MaskForest, Counter]:
    """Drop small masks and merge near-identical ones within each tree; children of a removed
    node move to its nearest kept ancestor, so nesting is preserved."""
    drops: Counter = Counter()
    pruned = MaskForest(forest.height, forest.width)
    for root in forest.roots():
        order = forest.tree_of(root)
        ious = codec.iou([forest.nodes[i].rle for i in order], [forest.nodes[i].rle for i in order])
        kept_at: dict[int, int] = {}  # original index -> index in `pruned`
        kept_order: list[int] = []  # positions in `order` of the kept nodes
        for position, index in enumerate(order):
            node = forest.nodes[index]
            ancestor = node.parent
            while ancestor is not None and ancestor not in kept_at:
                ancestor = forest.nodes[ancestor].parent
            if node.area < min_area:
                drops["below_min_area"] += 1
                continue
            if any(ious[position, other] >= iou_merge for other in kept_order):
                drops["near_duplicate"] += 1
                continue
            kept_at[index] = pruned.add(
                node.rle, None if ancestor is None else kept_at[ancestor], node.source,
                score=node.score, category=node.category, track_id=node.track_id,
                segment_id=node.segment_id, area=node.area,
            )
            kept_order.append(position)
    return pruned, drops


def eroded_points(mask: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, 2) integer (x, y) points inside the mask eroded by ceil(0.1 * sqrt(area))."""
    area = int(mask.sum())
    radius = math.ceil(0.1 * math.sqrt(area))
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.pad(mask[y0:y1, x0:x1], 1)  # the padding keeps the image border as an edge
    inner = distance_transform_edt(crop)[1:-1, 1:-1] > radius
    iy, ix = np.nonzero(inner)
    if len(iy) == 0:
        iy, ix = ys - y0, xs - x0
    picks = rng.choice(len(iy), size=count, replace=len(iy) < count)
    return np.stack([ix[picks] + x0, iy[picks] + y0], axis=1)


def mine_pairs(forest: MaskForest, image_id: str, *, definition: str, points: int, seed: int,
               min_area: int, iou_merge: float = 0.9, max_path: int = 6) -> MiningResult:
    pruned, drops = prune(forest, min_area, iou_merge)
    result = MiningResult(pruned, drops=drops)
    if not pruned.nodes:
        return result
    ids = pruned.segment_ids(image_id)
    kids = pruned.children()
    rng = rng_for(seed, image_id)
    for root in pruned.roots():
        order = pruned.tree_of(root)
        values = dict(zip(order, granularity(definition, [pruned.nodes[i].area for i in order]),
                          strict=True))
        masks = dict(zip(order, codec.decode_many([pruned.nodes[i].rle for i in order]), strict=True))
        for number, (x, y) in enumerate(eroded_points(masks[root].astype(bool), points, rng)):
            path, node = [root], root
            while True:
                inside = [k for k in kids[node] if masks[k][y, x]]
                if not inside:
                    break
                node = inside[0]
                path.append(node)
            if len(path) > max_path:
                drops["path_truncated"] += len(path) - max_path
            for index in path[:max_path]:
                n = pruned.nodes[index]
                result.pairs.append({
                    "pair_id": stable_id(image_id, ids[index], number, x, y, definition),
                    "image_id": image_id,
                    "instance_id": ids[root],
                    "segment_id": ids[index],
                    "point": [float(x), float(y)],
                    "mask": n.rle,
                    "granularity": float(values[index]),
                    "granularity_def": definition,
                    "level": n.level,
                    "is_part": n.level > 0,
                    "area": n.area,
                    "mask_source": n.source,
                })
    return result


def upscale_forest(forest: MaskForest, height: int, width: int) -> MaskForest:
    scaled = MaskForest(height, width, drops=forest.drops)
    if not forest.nodes:
        return scaled
    small = decode_many([n.rle for n in forest.nodes])
    rows = np.minimum(np.arange(height) * small.shape[1] // height, small.shape[1] - 1)
    cols = np.minimum(np.arange(width) * small.shape[2] // width, small.shape[2] - 1)
    for node, rle in zip(forest.nodes, encode_stack(small[:, rows[:, None], cols[None, :]]), strict=True):
        scaled.add(rle, node.parent, node.source, score=node.score, category=node.category)
    return scaled
