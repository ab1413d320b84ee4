"""Mask-granularity pairs from a mask forest: prune each instance tree, then click in each mask.

Per instance tree: masks under the minimum area are dropped, near-identical masks (IoU >= 0.9)
are merged into the one nearer the root, and granularities are computed over what is left.

Click rules (`clicks`):
- `proposal` (default, GraCo's rule): every kept mask is a proposal and gets N clicks inside
  itself eroded by a 3x3 square kernel ceil(0.1 * sqrt(area)) times, the image border not
  eroding (the proposal itself when nothing is left). With the `graco` definition a part larger
  than its object is replaced by the object (1.0), and the residual `object - part` is a further
  proposal (a pair with `is_residual`) when its rounded share is > 0.1.
- `instance_path` (the earlier rule, kept because one click then supervises every granularity
  at that point, Semantic-SAM style): N clicks inside the INSTANCE eroded by a Euclidean distance
  (the border eroding too), each yielding one pair for every mask on the root-to-leaf path that
  contains it (up to `max_path`).

Masks are read as runs and decoded only inside their bounding box (`rle_window`): one window
decode per mask at most, no full-resolution array.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from annotators.masks.clicks import graco_clicks_on_runs, instance_clicks
from annotators.masks.forest import MaskForest
from annotators.masks.granularity import granularity, residual_kept
from annotators.masks.rle_window import RunMask
from schemas import masks as codec
from schemas.ids import stable_id

CLICK_RULES = ("proposal", "instance_path")


@dataclass
class MiningResult:
    forest: MaskForest  # the pruned forest (levels recomputed); pairs refer to its segment ids
    pairs: list[dict] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)  # masks left out, by reason
    counts: Counter = field(default_factory=Counter)  # fallbacks and added proposals, by kind


def rng_for(seed: int, image_id: str) -> np.random.Generator:
    """One generator per image: the same seed and image always give the same points."""
    return np.random.default_rng(int(stable_id("mine", seed, image_id), 16))


def prune(forest: MaskForest, min_area: int, iou_merge: float) -> tuple[MaskForest, Counter]:
    """Drop small masks and merge near-identical ones within each tree; children of a removed
    node move to its nearest kept ancestor, so nesting is preserved."""
    drops: Counter = Counter()
    pruned = MaskForest(forest.height, forest.width)
    for root in forest.roots():
        order = forest.tree_of(root)
        areas = np.array([forest.nodes[i].area for i in order], dtype=np.float64)
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
            # IoU <= smaller area / larger area: only masks of similar area can be duplicates.
            similar = [o for o in kept_order
                       if min(areas[o], areas[position]) >= iou_merge * max(areas[o], areas[position])]
            if similar and codec.iou([node.rle], [forest.nodes[order[o]].rle for o in similar]).max() >= iou_merge:
                drops["near_duplicate"] += 1
                continue
            kept_at[index] = pruned.add(
                node.rle, None if ancestor is None else kept_at[ancestor], node.source,
                score=node.score, category=node.category, track_id=node.track_id,
                segment_id=node.segment_id, area=node.area,
            )
            kept_order.append(position)
    return pruned, drops


def _box(node) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of a node's bounding box (pycocotools' bbox is integral for RLE)."""
    x, y, w, h = (int(round(v)) for v in node.bbox)
    return y, y + h, x, x + w


@dataclass
class _Tree:
    """One instance tree being mined: ids, granularities and emitted pairs share this."""
    forest: MaskForest
    image_id: str
    ids: list[str]
    root: int
    definition: str
    result: MiningResult

    def emit(self, index: int, clicks: np.ndarray, value: float, *, number_from: int = 0,
             mask: dict | None = None, area: int | None = None, residual: bool = False) -> None:
        node = self.forest.nodes[index]
        for number, (x, y) in enumerate(clicks.tolist(), start=number_from):
            self.result.pairs.append({
                "pair_id": stable_id(self.image_id, self.ids[index], number, x, y, self.definition,
                                     *(("residual",) if residual else ())),
                "image_id": self.image_id,
                "instance_id": self.ids[self.root],
                "segment_id": self.ids[index],
                "point": [float(x), float(y)],
                "mask": node.rle if mask is None else mask,
                "granularity": float(value),
                "granularity_def": self.definition,
                "level": 1 if residual else node.level,
                "is_part": residual or node.level > 0,
                "area": node.area if area is None else int(area),
                "mask_source": node.source,
                "is_residual": residual,
            })


def _proposal_pairs(tree: _Tree, order: list[int], values: dict[int, float], points: int,
                    rng: np.random.Generator) -> None:
    forest, root, result = tree.forest, tree.root, tree.result
    root_node = forest.nodes[root]
    root_runs = RunMask(root_node.rle)

    def clicks(runs: RunMask) -> np.ndarray:
        chosen, emptied = graco_clicks_on_runs(runs, points, rng)
        result.counts["click_region_empty"] += emptied
        return chosen

    for index in order:
        node = forest.nodes[index]
        if tree.definition == "graco" and index != root and node.area > root_node.area:
            # GraCo replaces a part larger than its object by the object (granularity 1.0).
            result.counts["graco_part_replaced_by_object"] += 1
            tree.emit(root, clicks(root_runs), 1.0, number_from=points * (1 + index))
            continue
        runs = root_runs if index == root else RunMask(node.rle)
        tree.emit(index, clicks(runs), values[index])
        if tree.definition != "graco" or index == root:
            continue
        residual = root_runs.minus(runs)  # object - part, on runs
        if not residual_kept(residual.area, root_node.area):
            continue
        result.counts["graco_residuals"] += 1
        tree.emit(index, clicks(residual), max(0.1, float(np.round(residual.area / root_node.area, 1))),
                  mask=residual.to_rle(), area=residual.area, residual=True)


def _path_pairs(tree: _Tree, order: list[int], values: dict[int, float], points: int,
                max_path: int, rng: np.random.Generator) -> None:
    forest, root, result = tree.forest, tree.root, tree.result
    kids = forest.children()
    runs = {i: RunMask(forest.nodes[i].rle) for i in order}
    y0, y1, x0, x1 = _box(forest.nodes[root])
    clicks, emptied = instance_clicks(runs[root].window(y0, y1, x0, x1), y0, x0,
                                      forest.nodes[root].area, points, rng)
    result.counts["click_region_empty"] += emptied
    for number, (x, y) in enumerate(clicks.tolist()):
        path, node = [root], root
        while True:
            inside = [k for k in kids[node] if runs[k].contains(x, y)]
            if not inside:
                break
            node = inside[0]
            path.append(node)
        if len(path) > max_path:
            result.drops["path_truncated"] += len(path) - max_path
        for index in path[:max_path]:
            tree.emit(index, np.array([[x, y]]), values[index], number_from=number)


def mine_pairs(forest: MaskForest, image_id: str, *, definition: str, points: int, seed: int,
               min_area: int, iou_merge: float = 0.9, max_path: int = 6,
               clicks: str = "proposal") -> MiningResult:
    if clicks not in CLICK_RULES:
        raise ValueError(f"unknown click rule {clicks!r}; choose one of {', '.join(CLICK_RULES)}")
    pruned, drops = prune(forest, min_area, iou_merge)
    result = MiningResult(pruned, drops=drops)
    if not pruned.nodes:
        return result
    ids = pruned.segment_ids(image_id)
    rng = rng_for(seed, image_id)
    for root in pruned.roots():
        order = pruned.tree_of(root)
        values = dict(zip(order, granularity(definition, [pruned.nodes[i].area for i in order]),
                          strict=True))
        tree = _Tree(pruned, image_id, ids, root, definition, result)
        if clicks == "proposal":
            _proposal_pairs(tree, order, values, points, rng)
        else:
            _path_pairs(tree, order, values, points, max_path, rng)
    return result
