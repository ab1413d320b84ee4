"""Ground-truth hierarchies: annotations that already carry whole -> part (-> subpart).

Source formats are read by the ingest readers (pipelines/ingest/), which write gt `segments`
rows; `from_segment_rows` turns one image's rows into a `MaskForest` with source "gt" and nodes
in parent-first order. It is the only builder, so every format reaches the mine stage one way.
"""

from __future__ import annotations

from annotators.masks.forest import MaskForest
from schemas import masks as codec
from schemas.errors import SegcapError
from schemas.hierarchy import MISSING_PARENT, PARENT_CYCLE, resolve

SOURCE = "gt"


class HierarchyError(SegcapError):
    """Annotations whose structure cannot be a forest (a cycle, a missing parent)."""


def _parent_first(ids: list[str], parents: list[str | None]) -> list[int]:
    """Indices ordered so every parent precedes its children; refuses a broken hierarchy
    (the one rule of `schemas.hierarchy`) as a whole."""
    forest = resolve(dict(zip(ids, parents, strict=True)))
    for node_id in ids:
        reason = forest.broken.get(node_id)
        if reason == MISSING_PARENT:
            raise HierarchyError(reason, f"{node_id} hangs under a parent that is not in the image")
        if reason == PARENT_CYCLE:
            raise HierarchyError(reason, f"{node_id} is its own ancestor or hangs under a cycle")
    return sorted(range(len(ids)), key=lambda i: (forest.depth[ids[i]], i))


def from_segment_rows(rows: list[dict], height: int, width: int) -> MaskForest:
    """`segments` rows of one image (as ingest wrote them, in any order); their ids are kept."""
    ids = [r["segment_id"] for r in rows]
    parents = [r.get("parent_id") for r in rows]
    forest = MaskForest(height, width)
    at: dict[str, int] = {}
    for index in _parent_first(ids, parents):
        row, parent = rows[index], parents[index]
        at[ids[index]] = forest.add(
            codec.from_rle(row["mask"], height, width), None if parent is None else at[parent],
            SOURCE, category=row.get("category"), segment_id=ids[index],
            track_id=row.get("track_id"),
        )
    return forest
