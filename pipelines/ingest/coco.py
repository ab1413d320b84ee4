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

from collections.abc import Iterator

from pipelines.ingest.base import (
    IngestError,
    ItemError,
    ItemResult,
    ReadContext,
    box_mask,
    error_item,
    mask_for,
    require_list,
)
from pipelines.ingest.jsonfiles import (
    GroupedSpill,
    check_depth,
    check_size,
    read_array,
    stream_items,
)
from schemas import hierarchy, masks
from schemas.errors import SegcapError
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "segments"
STREAMED = True  # list_items streams the file (see jsonfiles.py)


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
    """One item per image, streamed: annotations are grouped by image in a temporary SQLite file,
    so a large annotation file is never held in memory as Python objects (see jsonfiles.py)."""
    path = options.source
    check_size(path, float("inf"))  # streamed: no size limit, only existence
    check_depth(path)
    categories = category_table(read_array(path, "categories", required=False), path)
    spill = GroupedSpill()
    try:
        bad_annotations = []
        count = 0
        for count, ann in enumerate(stream_items(path, "annotations.item"), 1):
            image_key = ann.get("image_id") if isinstance(ann, dict) else None
            try:
                spill.add(str(image_key), ann)
            except RecursionError:
                bad_annotations.append(error_item(f"annotation #{count}", Reason.BAD_FIELD,
                                                  "nested too deeply to be an annotation"))
        if count == 0:
            read_array(path, "annotations", required=False)  # explains a wrongly shaped value
        spill.finish()
        yield from bad_annotations
        yield from _image_items(path, spill, categories)
    finally:
        spill.close()


def _image_items(path, spill: GroupedSpill, categories: dict) -> Iterator[dict]:
    known: dict[str, str] = {}
    any_image = False
    for entry in stream_items(path, "images.item"):
        any_image = True
        if not isinstance(entry, dict) or "id" not in entry:
            yield error_item(f"image {entry!r}"[:200], Reason.BAD_FIELD, entry)
            continue
        key = str(entry["id"])
        ref = f"image {entry['id']} ({entry.get('file_name')})"
        if key in known:  # the first entry keeps the id and its annotations
            yield error_item(ref, Reason.DUPLICATE_ID, f"image id {entry['id']} was already used by "
                             f"{known[key]}; the first entry is kept | {entry}")
            continue
        known[key] = str(entry.get("file_name"))
        yield {"ref": ref, "image": entry, "annotations": spill.group(key),
               "categories": categories}
    if not any_image:
        read_array(path, "images", required=True)
    for image_key in spill.keys():
        if image_key not in known:
            for ann in spill.group(image_key):
                yield error_item(f"annotation {ann.get('id') if isinstance(ann, dict) else ann!r}",
                                 Reason.UNKNOWN_IMAGE, ann)


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    entry = item["image"]
    image = ctx.load_image(entry.get("file_name"), result,
                           expect=(entry.get("height"), entry.get("width")), source_id=entry["id"])
    decode_annotations(item["annotations"], item["categories"], image, ctx, result)


def annotation_mask(ann: dict, image, box_masks: bool) -> tuple[dict, str]:
    """(RLE, mask_source): the segmentation, or the bbox when there is none and box masks are on."""
    segmentation = ann.get("segmentation")
    if segmentation not in (None, [], {}, ""):
        return mask_for(segmentation, image), "gt"
    box = ann.get("bbox")
    if not (isinstance(box, list) and len(box) == 4
            and all(isinstance(v, (int, float)) for v in box)):
        raise ItemError(Reason.BAD_FIELD, "no segmentation and no [x, y, w, h] bbox")
    if not box_masks:
        raise ItemError(Reason.BOX_ONLY, "a bbox but no segmentation; pass --box-masks (recipe: "
                        "box_masks: true) to use the box as its mask")
    x, y, w, h = box
    if w <= 0 or h <= 0:
        raise ItemError(Reason.EMPTY_MASK, f"box of size {w}x{h}")
    return box_mask(x, y, w, h, image.height, image.width), "box"


def decode_annotations(annotations: list, categories: dict, image, ctx: ReadContext,
                       result: ItemResult) -> dict[str, dict]:
    """Annotations of one image -> segment rows with parents/levels; returns {ann id: row}.

    `iscrowd` regions are kept and marked `is_crowd` (one mask over several objects: never one
    instance); an annotation id used twice keeps its first annotation (`duplicate_id`).
    """
    accepted: dict[str, dict] = {}
    meta: dict[str, tuple[dict, dict]] = {}
    for index, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            result.reject(f"annotation #{index} of image {image.image_id}", Reason.BAD_FIELD, ann)
            continue
        # An annotation without an id is keyed by its position, so ids stay unique.
        key = str(ann["id"]) if ann.get("id") is not None else f"#{index}"
        ref = f"annotation {key} of image {image.image_id}"
        if key in accepted or key in meta:
            result.reject(ref, Reason.DUPLICATE_ID, f"annotation id {key} is used twice in this image; "
                          f"the first is kept | {ann}")
            continue
        category = categories.get(str(ann.get("category_id")))
        if category is None:
            result.reject(ref, Reason.UNKNOWN_CATEGORY, ann)
            continue
        try:
            rle, source = annotation_mask(ann, image, ctx.options.box_masks)
        except SegcapError as exc:
            result.reject(ref, exc.reason, f"{exc} | {ann}")
            continue
        crowd = bool(ann.get("iscrowd") or 0)
        row = ctx.segment_row(image, ("coco", ann["id"] if ann.get("id") is not None else key), rle,
                              category=category["name"], is_crowd=crowd, mask_source=source)
        if crowd:
            result.counters["crowd_regions"] += 1
        if source == "box":
            result.counters["box_masks"] += 1
        accepted[key] = row
        meta[key] = (ann, str(ann.get("category_id")), category)
    parents = {key: _parent(key, ann, category, accepted, meta)
               for key, (ann, _, category) in meta.items()}
    forest = hierarchy.resolve(parents)
    for key, reason in forest.broken.items():
        # A part whose parent is absent (or was itself rejected) goes, and so do its parts.
        result.reject(f"annotation {key}", _REJECT_REASON[reason], meta[key][0])
        del accepted[key]
    for key, row in accepted.items():
        row["parent_id"] = accepted[parents[key]]["segment_id"] if parents[key] else None
        row["level"] = forest.depth[key]
        result.add("segments", row)
    return accepted


# Ingest's names for the hierarchy rule's reasons ("unknown_parent" predates the shared rule).
_REJECT_REASON = {hierarchy.MISSING_PARENT: Reason.UNKNOWN_PARENT,
                  hierarchy.PARENT_CYCLE: Reason.PARENT_CYCLE}


def _parent(key: str, ann: dict, category: dict, accepted: dict, meta: dict) -> str | None:
    """An explicit `parent_id` wins; else a part category hangs under its best container."""
    if ann.get("parent_id") is not None:
        return str(ann["parent_id"])
    if category["parent"] is not None:
        return _best_container(key, category["parent"], accepted, meta)
    return None


def _best_container(key: str, parent_category: str, accepted: dict, meta: dict) -> str | None:
    """The annotation of the parent category that overlaps this part most (None: no overlap)."""
    candidates = [k for k, (_, category_id, _) in meta.items()
                  if k != key and k in accepted and category_id == parent_category]
    if not candidates:
        return None
    overlaps = masks.iou([accepted[key]["mask"]], [accepted[k]["mask"] for k in candidates])[0]
    best = int(overlaps.argmax())
    return candidates[best] if overlaps[best] > 0 else None
