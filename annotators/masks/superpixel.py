"""The weight-free hierarchy: SLIC superpixels, a region adjacency graph, one greedy merge tree.

Everything per pixel is vectorised numpy (region statistics with `np.bincount`, adjacency from
shifted label arrays); the only Python loop runs once per merge (a few hundred per image) over a
heap of edges with lazy invalidation. No node's mask is ever materialised: leaves are numbered in
depth-first order, so every node is a contiguous range of leaf ranks, and its RLE comes from the
runs of the rank image.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage.color import rgb2lab
from skimage.filters import sobel
from skimage.segmentation import slic

from annotators.masks.forest import MaskForest
from schemas.masks import from_rle
from schemas.options.masks import SuperpixelOptions


@dataclass
class MergeTree:
    labels: np.ndarray  # (H, W) leaf id per pixel, full resolution
    n_leaves: int
    parent: np.ndarray  # (n_nodes,) parent node id, -1 for a root; children ids < parent ids
    children: np.ndarray  # (n_nodes, 2) child ids of internal nodes, -1 for leaves
    area: np.ndarray  # (n_nodes,) pixels at full resolution

    @property
    def n_nodes(self) -> int:
        return len(self.parent)

    def roots(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.parent < 0)]


def superpixels(pixels: np.ndarray, options: SuperpixelOptions) -> tuple[np.ndarray, np.ndarray]:
    """(work-resolution RGB, contiguous SLIC labels at work resolution)."""
    height, width = pixels.shape[:2]
    factor = max(1, int(np.ceil(np.sqrt(height * width / options.work_pixels))))
    work = np.asarray(Image.fromarray(pixels).reduce(factor)) if factor > 1 else pixels
    segments = min(options.n_segments, work.shape[0] * work.shape[1])
    if segments <= 1 or min(work.shape[:2]) < 2:
        return work, np.zeros(work.shape[:2], dtype=np.int64)
    labels = slic(work, n_segments=segments, compactness=options.compactness,
                  max_num_iter=options.slic_iterations, start_label=0, channel_axis=-1)
    _, contiguous = np.unique(labels, return_inverse=True)
    return work, contiguous.reshape(labels.shape)


def _upscale(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    if labels.shape == (height, width):
        return labels
    rows = np.minimum(np.arange(height) * labels.shape[0] // height, labels.shape[0] - 1)
    cols = np.minimum(np.arange(width) * labels.shape[1] // width, labels.shape[1] - 1)
    return labels[rows[:, None], cols[None, :]]


def region_sums(work: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Per region sums of the pixel features [1, L, a, b, L^2, |grad L|, x, y] (one bincount each)."""
    lab = rgb2lab(work)
    lightness = lab[..., 0]
    gradient = sobel(lightness) if min(lightness.shape) > 1 else np.zeros_like(lightness)
    side = float(max(labels.shape))
    ys, xs = np.indices(labels.shape, dtype=np.float64)
    flat = labels.ravel()
    channels = (np.ones_like(lightness), lightness, lab[..., 1], lab[..., 2], lightness ** 2,
                gradient, xs / side, ys / side)
    return np.stack([np.bincount(flat, weights=c.ravel(), minlength=n) for c in channels], axis=1)


def adjacency(labels: np.ndarray) -> np.ndarray:
    """(E, 2) unique adjacent label pairs (a < b), from horizontally and vertically shifted labels."""
    pairs = []
    for first, second in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        differ = first != second
        a, b = first[differ], second[differ]
        pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    stacked = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    return np.unique(stacked, axis=0) if len(stacked) else stacked.reshape(0, 2)


class _Features:
    """Mean features and merge costs from the sums; merged regions just add their sums.
    Each region's feature vector is computed once, when the region is created."""

    def __init__(self, sums: np.ndarray, n_leaves: int, options: SuperpixelOptions):
        self.sums = sums
        self.options = options
        self.cache = np.zeros((len(sums), 7))
        self.cache[:n_leaves] = self.vectors(np.arange(n_leaves))

    def merged(self, new: int, a: int, b: int) -> None:
        self.sums[new] = self.sums[a] + self.sums[b]
        self.cache[new] = self.vectors(np.array([new]))[0]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        s = self.sums[ids]
        count = s[:, :1]
        mean = s[:, 1:] / count
        contrast = np.sqrt(np.maximum(mean[:, 3] - mean[:, 0] ** 2, 0.0))
        o = self.options
        return np.column_stack([
            o.colour_weight * mean[:, 0:3],
            o.texture_weight * contrast,
            o.texture_weight * mean[:, 4],
            o.position_weight * 100.0 * mean[:, 5:7],  # x, y in image sides, on the Lab scale
        ])

    def costs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        distance = np.sum((self.cache[a] - self.cache[b]) ** 2, axis=1)
        na, nb = self.sums[a, 0], self.sums[b, 0]
        return distance * (na * nb / (na + nb)) ** self.options.size_exponent


def merge_tree(pixels: np.ndarray, options: SuperpixelOptions) -> MergeTree:
    height, width = pixels.shape[:2]
    work, work_labels = superpixels(pixels, options)
    n = int(work_labels.max()) + 1
    sums = np.zeros((2 * n - 1, 8))
    sums[:n] = region_sums(work, work_labels, n)
    edges = adjacency(work_labels)
    labels = _upscale(work_labels, height, width)
    area = np.zeros(2 * n - 1, dtype=np.int64)
    area[:n] = np.bincount(labels.ravel(), minlength=n)
    parent = np.full(2 * n - 1, -1, dtype=np.int64)
    children = np.full((2 * n - 1, 2), -1, dtype=np.int64)
    features = _Features(sums, n, options)
    neighbours: list[set[int]] = [set() for _ in range(2 * n - 1)]
    for a, b in edges.tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    heap = list(zip(features.costs(edges[:, 0], edges[:, 1]).tolist(),
                    edges[:, 0].tolist(), edges[:, 1].tolist(), strict=True))
    heapq.heapify(heap)
    alive = np.zeros(2 * n - 1, dtype=bool)
    alive[:n] = True
    new = n
    while heap:
        _, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]):
            continue  # lazy invalidation: an edge of a region that was merged away
        alive[a] = alive[b] = False
        alive[new] = True
        parent[a] = parent[b] = new
        children[new] = (a, b)
        features.merged(new, a, b)
        area[new] = area[a] + area[b]
        around = (neighbours[a] | neighbours[b]) - {a, b}
        for c in around:
            neighbours[c].discard(a)
            neighbours[c].discard(b)
            neighbours[c].add(new)
        neighbours[new] = around
        if around:
            others = np.fromiter(around, dtype=np.int64, count=len(around))
            fresh = features.costs(np.full(len(others), new), others)
            for cost, c in zip(fresh.tolist(), others.tolist(), strict=True):
                heapq.heappush(heap, (cost, new, c))
        new += 1
    used = new
    return MergeTree(labels, n, parent[:used], children[:used], area[:used])


def _split(tree: MergeTree, node: int, pieces_wanted: int, min_area: int) -> list[int]:
    """Undo the latest merges inside `node` until it is in `pieces_wanted` pieces; pieces under
    `min_area` are left out (they are noise at this level, not parts)."""
    pieces, frozen = [node], set()
    while len(pieces) < pieces_wanted:
        splittable = [p for p in pieces if p >= tree.n_leaves and p not in frozen]
        if not splittable:
            break
        latest = max(splittable)
        big = [int(c) for c in tree.children[latest] if tree.area[c] >= min_area]
        if not big:
            frozen.add(latest)
            continue
        pieces.remove(latest)
        pieces.extend(big)
    return [] if pieces == [node] else sorted(pieces, key=lambda p: -tree.area[p])


def select_nodes(tree: MergeTree, options: SuperpixelOptions) -> list[tuple[int, int | None]]:
    """(tree node, index of its kept parent) pairs, parent-first: instances at the cut of the
    merge order with `instances` regions left, then parts level by level."""
    total = int(tree.area[tree.roots()].sum())
    # Nodes below `cut` that are absorbed at or after it are the regions left at that point.
    cut = max(tree.n_nodes - (options.instances - len(tree.roots())), tree.n_leaves)
    instances = [i for i in range(min(cut, tree.n_nodes))
                 if tree.parent[i] < 0 or tree.parent[i] >= cut]
    floor = max(options.min_part_area, options.min_instance_fraction * total)
    kept: list[tuple[int, int | None]] = [
        (i, None) for i in sorted(instances, key=lambda i: -tree.area[i]) if tree.area[i] >= floor
    ]
    frontier = list(range(len(kept)))
    for _ in range(options.part_levels):
        next_frontier = []
        for index in frontier:
            for piece in _split(tree, kept[index][0], options.parts_per_level, options.min_part_area):
                kept.append((piece, index))
                next_frontier.append(len(kept) - 1)
        frontier = next_frontier
    return kept


def leaf_ranges(tree: MergeTree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth-first leaf ranks, and for every node the [lo, hi) range of its leaves' ranks."""
    rank = np.zeros(tree.n_leaves, dtype=np.int64)
    lo = np.zeros(tree.n_nodes, dtype=np.int64)
    hi = np.zeros(tree.n_nodes, dtype=np.int64)
    counter = 0
    for root in tree.roots():
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                hi[node] = counter
                continue
            lo[node] = counter
            if node < tree.n_leaves:
                rank[node] = counter
                counter += 1
                hi[node] = counter
                continue
            stack.append((node, True))
            stack.extend((int(c), False) for c in reversed(tree.children[node]))
    return rank, lo, hi


def persistence(tree: MergeTree) -> np.ndarray:
    """How long a node survives in the merge order before it is absorbed, in [0, 1]."""
    merges = max(tree.n_nodes - tree.n_leaves, 1)
    formed = np.maximum(np.arange(tree.n_nodes) - tree.n_leaves + 1, 0)
    absorbed = np.where(tree.parent >= 0, tree.parent - tree.n_leaves + 1, merges)
    return np.clip((absorbed - formed) / merges, 0.0, 1.0)


def rank_runs(rank_image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal leaf rank over the column-major flattening COCO RLE uses: (values, lengths)."""
    flat = rank_image.ravel(order="F")
    starts = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1])
    return flat[starts], np.diff(np.append(starts, flat.size))


def range_rle(values: np.ndarray, lengths: np.ndarray, lo: int, hi: int, height: int,
              width: int) -> dict:
    """The RLE of the node whose leaves have ranks [lo, hi), straight from the label runs.

    pycocotools only encodes dense masks; a few thousand label runs give every node's
    uncompressed RLE without materialising its mask, and pycocotools compresses it.
    """
    inside = (values >= lo) & (values < hi)
    starts = np.concatenate([[0], np.flatnonzero(inside[1:] != inside[:-1]) + 1])
    counts = np.add.reduceat(lengths, starts).tolist()
    if inside[0]:
        counts.insert(0, 0)  # COCO runs start with background
    return from_rle({"size": [height, width], "counts": counts})


class SuperpixelSource:
    name = "superpixel"

    def __init__(self, options: SuperpixelOptions | None = None):
        self.options = options or SuperpixelOptions()

    def build(self, pixels: np.ndarray, annotations=None) -> MaskForest:
        return self.build_with_labels(pixels)[0]

    def build_with_labels(self, pixels: np.ndarray) -> tuple[MaskForest, np.ndarray]:
        """The forest and the full-resolution superpixel label image it was merged from."""
        height, width = pixels.shape[:2]
        tree = merge_tree(pixels, self.options)
        rank, lo, hi = leaf_ranges(tree)
        values, lengths = rank_runs(rank[tree.labels])
        scores = persistence(tree)
        forest = MaskForest(height, width)
        for node, parent in select_nodes(tree, self.options):
            rle = range_rle(values, lengths, int(lo[node]), int(hi[node]), height, width)
            forest.add(rle, parent, self.name, score=float(scores[node]), area=int(tree.area[node]))
        return forest, tree.labels
