"""`coco-panoptic`: COCO panoptic JSON + PNG id maps -> `images`, `segments`, `segcap` (panoptic).

Input: `--source panoptic.json` with `images` [{id, file_name, height?, width?}],
`annotations` [{image_id, file_name (the PNG), segments_info [{id, category_id}]}] and
`categories` [{id, name, isthing?}]; `--images` the photo folder; the PNG folder is
`--panoptic-masks` or, by COCO convention, the JSON path without its suffix. A PNG pixel's
segment id is R + 256 G + 256^2 B (`masks.from_label_map`).

Each image also gets one panoptic sample as MGLMM's loader builds it: segments sorted by category
id (stable), names through MGLMM's remap (stuff names lose their suffix: "sky-other-merged" ->
"sky"), a run of equal names numbered name-1, name-2, ..., and the answer "Sure, the image
contains <p> a </p> [SEG], ... and <p> c </p> [SEG].". Crowd segments (`iscrowd`: one mask
over several objects) are kept as segments marked `is_crowd` but left out of the answer, so no
crowd is ever named or numbered as one instance (MGLMM itself does not filter them).
"""

from __future__ import annotations

from collections.abc import Iterator

from annotators.images import read_image_bytes, resolve_inside
from pipelines.ingest.base import (
    IngestError,
    ItemError,
    ItemResult,
    ReadContext,
    as_int,
    error_item,
    need,
)
from pipelines.ingest.jsonfiles import check_depth, check_size, read_array, stream_items
from schemas import masks
from schemas.grounding import mglmm_label, mglmm_numbered, panoptic_sentence
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "segments"
STREAMED = True  # list_items streams the file (see jsonfiles.py)
QUESTION = "Can you segment all the objects in the image?"  # MGLMM's panoptic question


def list_items(options: IngestOptions) -> Iterator[dict]:
    """One item per panoptic annotation (it already holds its image's segments), streamed, so a
    large panoptic file is never held in memory whole (see jsonfiles.py)."""
    path = options.source
    check_size(path, float("inf"))  # streamed: no size limit, only existence
    check_depth(path)
    categories: dict[str, str] = {}
    for cat in read_array(path, "categories", required=True):
        if not isinstance(cat, dict) or "id" not in cat or not isinstance(cat.get("name"), str):
            raise IngestError(f"{path}: every category needs an id and a name, got {cat!r}")
        categories[str(cat["id"])] = cat["name"]
    # MGLMM sorts segments by numeric category id (not by name, not by position in the file).
    numeric = sorted(categories, key=lambda cid: (not cid.lstrip("-").isdigit(),
                                                   int(cid) if cid.lstrip("-").isdigit() else 0, cid))
    order = {cid: index for index, cid in enumerate(numeric)}
    images: dict[str, dict] = {}
    for entry in stream_items(path, "images.item"):
        if not isinstance(entry, dict):
            yield error_item(f"image {entry!r}"[:200], Reason.BAD_FIELD, entry)
        elif str(entry.get("id")) in images:
            yield error_item(f"image {entry.get('id')} ({entry.get('file_name')})", Reason.DUPLICATE_ID,
                             f"image id already used; the first entry is kept | {entry}")
        else:
            images[str(entry.get("id"))] = entry
    if not images:
        read_array(path, "images", required=True)
    annotated: set[str] = set()
    any_annotation = False
    for ann in stream_items(path, "annotations.item"):
        any_annotation = True
        ref = f"panoptic annotation {ann.get('file_name') if isinstance(ann, dict) else ann!r}"
        entry = images.get(str(ann.get("image_id"))) if isinstance(ann, dict) else None
        if entry is None:
            yield error_item(ref, Reason.UNKNOWN_IMAGE, ann)
            continue
        if str(ann.get("image_id")) in annotated:
            yield error_item(ref, Reason.DUPLICATE_ID, f"image {ann.get('image_id')} already has a "
                             f"panoptic annotation; the first is kept | {ann}")
            continue
        annotated.add(str(ann.get("image_id")))
        yield {"ref": ref, "image": entry, "annotation": ann, "categories": categories,
               "category_order": order}
    if not any_annotation:
        read_array(path, "annotations", required=True)


def _png_root(ctx: ReadContext):
    options = ctx.options
    return options.panoptic_masks or options.source.with_suffix("")


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    entry, ann, categories = item["image"], item["annotation"], item["categories"]
    image = ctx.load_image(entry.get("file_name"), result,
                           expect=(entry.get("height"), entry.get("width")), source_id=entry.get("id"))
    png = read_image_bytes(resolve_inside(_png_root(ctx), need(ann, "file_name", str, "the annotation")))
    by_id = masks.from_label_map(png)
    if by_id:
        size = next(iter(by_id.values()))["size"]
        if tuple(size) != (image.height, image.width):
            raise ItemError(Reason.SIZE_MISMATCH, f"PNG {ann['file_name']} is {size[0]}x{size[1]}, "
                            f"image is {image.height}x{image.width}")
    rows, names, order, seen = [], [], [], set()
    for info in need(ann, "segments_info", list, "the annotation"):
        if not isinstance(info, dict):
            raise ItemError(Reason.BAD_FIELD, f"a segments_info entry is {type(info).__name__}, not an object")
        ref = f"segment {info.get('id')} of {ann['file_name']}"
        name = categories.get(str(info.get("category_id")))
        if name is None:
            result.reject(ref, Reason.UNKNOWN_CATEGORY, info)
            continue
        as_int(info.get("id"), f"the id of {ref}")  # the PNG's pixel value for the segment
        if info.get("id") in seen:
            result.reject(ref, Reason.DUPLICATE_ID, f"segment id {info['id']} is listed twice | {info}")
            continue
        rle = by_id.get(int(info["id"]))
        if rle is None:
            result.reject(ref, Reason.EMPTY_MASK, f"no pixel of id {info['id']} in the PNG | {info}")
            continue
        seen.add(info["id"])
        crowd = bool(info.get("iscrowd") or 0)
        rows.append(ctx.segment_row(image, ("panoptic", info["id"]), rle, category=name,
                                    is_crowd=crowd))
        names.append(name)
        order.append(item["category_order"][str(info.get("category_id"))])
        if crowd:
            result.counters["crowd_regions"] += 1
    for row in rows:
        result.add("segments", row)
    instances = sorted((k for k, row in enumerate(rows) if not row["is_crowd"]),
                       key=lambda k: order[k])  # stable: equal categories keep the file's order
    if instances:
        result.add("segcap", panoptic_sample(ctx, image, [rows[k] for k in instances],
                                             [names[k] for k in instances], entry.get("id")))


def panoptic_sample(ctx: ReadContext, image, rows: list[dict], names: list[str],
                    source_id=None) -> dict:
    labels = mglmm_numbered([mglmm_label(name) for name in names])
    answer = panoptic_sentence(labels)
    return ctx.segcap_row(image, "panoptic", task="panoptic", question=QUESTION, answer=answer,
                          masks_=[r["mask"] for r in rows], labels=labels,
                          segment_ids=[r["segment_id"] for r in rows], source_id=source_id)
