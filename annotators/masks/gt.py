"""Ground-truth hierarchies: annotations that already carry whole -> part (-> subpart).

Every builder returns a `MaskForest` with source "gt" and nodes in parent-first order:
- `from_segment_rows`: `segments` rows ingest wrote (segment_id, parent_id, level, mask);
- `from_coco`: COCO-style annotations with parent ids (PACO / PASCAL-Part style);
- `from_part_label_maps`: an instance label map plus a part label map;
- `from_mgsc`: MGSC records of one image ("root" lists objects, "subtree: <label>" its parts);
- `from_mot_boxes`: MOT tracks, one instance per box, no parts.
"""

from __future__ import annotations

import numpy as np

from annotators.masks.forest import MaskForest, containment_matrix
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


def _forest(height: int, width: int, ids: list[str], parents: list[str | None], rles: list[dict],
            categories: list[str | None], *, keep_ids: bool = False,
            track_ids: list[int | None] | None = None) -> MaskForest:
    forest = MaskForest(height, width)
    at: dict[str, int] = {}
    for index in _parent_first(ids, parents):
        parent = parents[index]
        at[ids[index]] = forest.add(
            rles[index], None if parent is None else at[parent], SOURCE, category=categories[index],
            segment_id=ids[index] if keep_ids else None,
            track_id=track_ids[index] if track_ids else None,
        )
    return forest


def from_segment_rows(rows: list[dict], height: int, width: int) -> MaskForest:
    """`segments` rows of one image (as ingest wrote them); their segment ids are kept."""
    return _forest(
        height, width,
        [r["segment_id"] for r in rows], [r.get("parent_id") for r in rows],
        [codec.from_rle(r["mask"], height, width) for r in rows], [r.get("category") for r in rows],
        keep_ids=True, track_ids=[r.get("track_id") for r in rows],
    )


def from_coco(annotations: list[dict], height: int, width: int) -> MaskForest:
    """COCO-style annotations: `id`, `segmentation` (RLE/polygons), `parent_id` (or `parent`)."""
    ids = [str(a["id"]) for a in annotations]
    parents = [a.get("parent_id", a.get("parent")) for a in annotations]
    parents = [None if p is None else str(p) for p in parents]
    rles = [codec.to_rle(a["segmentation"], height, width).rle for a in annotations]
    categories = [a.get("category") or a.get("category_name") for a in annotations]
    return _forest(height, width, ids, parents, rles, categories)


def from_part_label_maps(instances: np.ndarray, parts: np.ndarray,
                         part_names: dict[int, str] | None = None,
                         instance_names: dict[int, str] | None = None) -> MaskForest:
    """An instance label map and a part label map (0 = none): each instance's parts are its
    pixels grouped by part label."""
    height, width = instances.shape
    ids, parents, rles, categories = [], [], [], []
    for instance, rle in codec.from_label_map(instances).items():
        ids.append(f"i{instance}")
        parents.append(None)
        rles.append(rle)
        categories.append((instance_names or {}).get(instance))
        inside = np.where(instances == instance, parts, 0)
        for part, part_rle in codec.from_label_map(inside).items():
            ids.append(f"i{instance}p{part}")
            parents.append(f"i{instance}")
            rles.append(part_rle)
            categories.append((part_names or {}).get(part))
    return _forest(height, width, ids, parents, rles, categories)


def from_mgsc(records: list[dict], height: int, width: int) -> MaskForest:
    """MGSC records of one image. A "root" record's keys are objects; a "subtree: <label>"
    record's keys are parts of the object labelled <label> (or of the object that holds them
    best); a subtree without a matching object gets the union of its parts as its root."""
    objects: list[tuple[str, dict]] = []
    subtrees: list[tuple[str, list[tuple[str, dict]]]] = []
    for record in records:
        keys = [(str(record[key].get("label", key)), codec.to_rle(record[key]["mask"], height, width).rle)
                for key in record.get("gcg_labels", [])]
        label = str(record.get("label", "root"))
        if label == "root":
            objects.extend(keys)
        else:
            subtrees.append((label.split(":", 1)[-1].strip(), keys))
    ids = [f"o{i}" for i in range(len(objects))]
    parents: list[str | None] = [None] * len(objects)
    rles = [rle for _, rle in objects]
    categories: list[str | None] = [name for name, _ in objects]
    for number, (focus, parts) in enumerate(subtrees):
        if not parts:
            continue
        owner = _owner(focus, parts, objects)
        if owner is None:
            owner = f"s{number}"
            ids.append(owner)
            parents.append(None)
            rles.append(codec.union([rle for _, rle in parts]))
            categories.append(focus)
        for index, (name, rle) in enumerate(parts):
            ids.append(f"{owner}.{number}.{index}")
            parents.append(owner)
            rles.append(rle)
            categories.append(name)
    return _forest(height, width, ids, parents, rles, categories)


def _owner(focus: str, parts: list[tuple[str, dict]], objects: list[tuple[str, dict]]) -> str | None:
    named = [i for i, (name, _) in enumerate(objects) if name == focus]
    candidates = named or list(range(len(objects)))
    if not candidates:
        return None
    union = codec.union([rle for _, rle in parts])
    shares = [containment_matrix([union, objects[i][1]])[0, 1] for i in candidates]
    best = int(np.argmax(shares))
    return f"o{candidates[best]}" if shares[best] >= 0.9 else None


def from_mot_boxes(boxes: list[dict], height: int, width: int) -> MaskForest:
    """MOT boxes of one frame (`track_id`, `bbox` x, y, w, h): one box-shaped instance each."""
    forest = MaskForest(height, width)
    for box in boxes:
        x, y, w, h = (float(v) for v in box["bbox"])
        polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
        encoded = codec.from_polygons([polygon], height, width)
        forest.add(encoded.rle, None, SOURCE, category=box.get("category"),
                   track_id=int(box["track_id"]) if box.get("track_id") is not None else None)
    return forest
