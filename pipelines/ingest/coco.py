"""`coco`: COCO instances JSON (plus part hierarchies) -> `images` + `segments`.

Input: `--source instances.json` with `images` [{id, file_name, height?, width?}],
`annotations` [{id, image_id, category_id, segmentation (polygons | RLE), parent_id?}] and
`categories` [{id, name, supercategory?, parent?}]. `--images` is the folder file names resolve in.

Parts: an annotation's `parent_id` (another annotation id of the same image) wins. Otherwise, a
category whose `parent` (a category id or name) or `supercategory` names *another category*
(PACO/PASCAL-Part style, e.g. "dog" for "dog:leg") is a part category: its annotations hang
under the annotation of the parent category in the same image whose mask overlaps them most.
`level` is the depth in that forest (0 = object).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pipelines.ingest.base import (
    ITEM_ERRORS,
    IngestError,
    ItemResult,
    ReadContext,
    error_item,
    load_json,
    mask_for,
    require_list,
)
from schemas import masks
from schemas.options.ingest import IngestOptions

PRIMARY = "segments"


def category_table(categories: list, path) -> dict[str, dict]:
    """{str(id): {"name", "parent"}} where parent is the parent category's str(id) or None."""
    by_id = {}
    for cat in require_list(categories, "categories", path):
        if not isinstance(cat, dict) or "id" not in cat or not isinstance(cat.get("name"), str):
            raise IngestError(f"{path}: every category needs an id and a name, got {cat!r}")
        by_id[str(cat["id"])] = cat
    by_name = {cat["name"]: cid for cid, cat in by_id.items()}
    table = {}
    for cid, cat in by_id.items():
        parent = cat.get("parent")
        parent_id = None
        if parent is not None:
            parent_id = str(parent) if str(parent) in by_id else by_name.get(str(parent))
        elif isinstance(cat.get("supercategory"), str):
            parent_id = by_name.get(cat["supercategory"])
        table[cid] = {"name": cat["name"], "parent": parent_id if parent_id != cid else None}
    return table


def list_items(options: IngestOptions) -> Iterator[dict]:
    data = load_json(options.source)
    if not isinstance(data, dict):
        raise IngestError(f"{options.source}: a COCO file is a JSON object with images/annotations")
    categories = category_table(data.get("categories", []), options.source)
    images = require_list(data.get("images"), "images", options.source)
    anns_by_image = defaultdict(list)
    for ann in require_list(data.get("annotations", []), "annotations", options.source):
        image_key = ann.get("image_id") if isinstance(ann, dict) else None
        anns_by_image[str(image_key)].append(ann)
    known = set()
    for entry in images:
        if not isinstance(entry, dict) or "id" not in entry:
            yield error_item(f"image {entry!r}"[:200], "bad_field", entry)
            continue
        known.add(str(entry["id"]))
        yield {
            "ref": f"image {entry['id']} ({entry.get('file_name')})",
            "image": entry,
            "annotations": anns_by_image.get(str(entry["id"]), []),
            "categories": categories,
        }
    for image_key, anns in anns_by_image.items():
        if image_key not in known:
            for ann in anns:
                yield error_item(f"annotation {ann.get('id') if isinstance(ann, dict) else ann!r}",
                                 "unknown_image", ann)


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    entry = item["image"]
    image = ctx.load_image(entry["file_name"], result, expect=(entry.get("height"), entry.get("width")))
    decode_annotations(item["annotations"], item["categories"], image, ctx, result)


def decode_annotations(annotations: list, categories: dict, image, ctx: ReadContext,
                       result: ItemResult) -> dict[str, dict]:
    """Annotations of one image -> segment rows with parents/levels; returns {ann id: row}."""
    accepted: dict[str, dict] = {}
    meta: dict[str, tuple[dict, dict]] = {}
    for ann in annotations:
        ref = f"annotation {ann.get('id')} of image {image.image_id}"
        category = categories.get(str(ann.get("category_id")))
        if category is None:
            result.reject(ref, "unknown_category", ann)
            continue
        try:
            rle = mask_for(ann["segmentation"], image)
        except ITEM_ERRORS as exc:
            result.reject(ref, exc.reason, f"{exc} | {ann}")
            continue
        except KeyError:
            result.reject(ref, "bad_field", f"no segmentation | {ann}")
            continue
        row = ctx.segment_row(image, ("coco", ann.get("id")), rle, category=category["name"])
        accepted[str(ann.get("id"))] = row
        meta[str(ann.get("id"))] = (ann, str(ann.get("category_id")), category)
    parents = _parents(accepted, meta, result)
    for key, row in list(accepted.items()):
        if key not in parents:
            continue
        parent_key = parents[key]
        row["parent_id"] = accepted[parent_key]["segment_id"] if parent_key else None
        row["level"] = _depth(key, parents)
    for row in accepted.values():
        result.add("segments", row)
    return accepted


def _parents(accepted: dict, meta: dict, result: ItemResult) -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    for key, (ann, _, category) in meta.items():
        if ann.get("parent_id") is not None:
            parents[key] = str(ann["parent_id"])
        elif category["parent"] is not None:
            parents[key] = _best_container(key, category["parent"], accepted, meta)
    # A child whose parent is missing (or was itself rejected) is rejected too, transitively.
    changed = True
    while changed:
        changed = False
        for key, parent_key in parents.items():
            if key in accepted and parent_key is not None and (
                    parent_key not in accepted or parent_key == key):
                result.reject(f"annotation {key}", "unknown_parent", meta[key][0])
                del accepted[key]
                changed = True
    return {k: p for k, p in parents.items() if k in accepted}


def _best_container(key: str, parent_category: str, accepted: dict, meta: dict) -> str | None:
    """The annotation of the parent category that overlaps this part most (None: no overlap)."""
    candidates = [k for k, (_, category_id, _) in meta.items()
                  if k != key and k in accepted and category_id == parent_category]
    if not candidates:
        return None
    overlaps = masks.iou([accepted[key]["mask"]], [accepted[k]["mask"] for k in candidates])[0]
    best = int(overlaps.argmax())
    return candidates[best] if overlaps[best] > 0 else None


def _depth(key: str, parents: dict[str, str | None]) -> int:
    depth, seen = 0, {key}
    while parents.get(key) is not None:
        key = parents[key]
        if key in seen:  # a parent_id cycle: stop rather than loop
            break
        seen.add(key)
        depth += 1
    return depth
