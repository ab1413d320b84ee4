"""The mask forest every hierarchy source returns, and the source interface.

A forest is a list of nodes; each node has its RLE, bbox, area, parent (index into the list or
None for an instance), level (0 = instance), source and score. Nodes are kept parent-first, so a
parent's index is always smaller than its children's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from schemas import masks as codec
from schemas.ids import derived_segment_id
from schemas.rows import segment_row


@dataclass
class MaskNode:
    rle: dict
    bbox: list[float]
    area: int
    parent: int | None
    level: int
    source: str
    score: float | None = None
    category: str | None = None
    track_id: int | None = None
    segment_id: str | None = None  # set when the node comes from existing `segments` rows


@dataclass
class MaskForest:
    height: int
    width: int
    nodes: list[MaskNode] = field(default_factory=list)
    drops: Counter = field(default_factory=Counter)  # candidates a source filtered out, by reason

    def add(self, rle: dict, parent: int | None, source: str, *, score: float | None = None,
            category: str | None = None, track_id: int | None = None,
            segment_id: str | None = None, area: int | None = None) -> int:
        level = 0 if parent is None else self.nodes[parent].level + 1
        self.nodes.append(MaskNode(
            rle=rle, bbox=codec.bbox(rle), area=codec.area(rle) if area is None else int(area),
            parent=parent, level=level, source=source, score=score, category=category,
            track_id=track_id, segment_id=segment_id,
        ))
        return len(self.nodes) - 1

    def roots(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.parent is None]

    def children(self) -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {i: [] for i in range(len(self.nodes))}
        for i, node in enumerate(self.nodes):
            if node.parent is not None:
                kids[node.parent].append(i)
        return kids

    def tree_of(self, root: int) -> list[int]:
        """The nodes of one instance tree, parent-first."""
        kids = self.children()
        order, stack = [], [root]
        while stack:
            index = stack.pop()
            order.append(index)
            stack.extend(reversed(kids[index]))
        return order

    def depth(self) -> int:
        return 1 + max((n.level for n in self.nodes), default=-1)

    def segment_ids(self, image_id: str) -> list[str]:
        """Stable ids: existing ones are kept, new ones hash image, source and mask."""
        return [
            n.segment_id or derived_segment_id(image_id, n.source, n.rle["counts"], n.parent, n.level)
            for n in self.nodes
        ]

    def segment_rows(self, image_id: str) -> list[dict]:
        ids = self.segment_ids(image_id)
        return [
            segment_row(
                segment_id=ids[i], image_id=image_id,
                parent_id=None if n.parent is None else ids[n.parent], level=n.level,
                mask=n.rle, bbox=n.bbox, area=n.area, category=n.category,
                mask_source=n.source, score=n.score, track_id=n.track_id,
            )
            for i, n in enumerate(self.nodes)
        ]


def containment_matrix(rles: list[dict]) -> np.ndarray:
    """M[i, j] = |i ∩ j| / |i|: pycocotools' IoU against a crowd gt is exactly that ratio."""
    from pycocotools import mask as coco_mask

    if not rles:
        return np.zeros((0, 0))
    return np.asarray(coco_mask.iou(rles, rles, [1] * len(rles)), dtype=np.float64)
