"""`coco-panoptic`: COCO panoptic JSON + PNG id maps -> `images`, `segments`, `segcap` (panoptic).

Input: `--source panoptic.json` with `images` [{id, file_name, height?, width?}],
`annotations` [{image_id, file_name (the PNG), segments_info [{id, category_id}]}] and
`categories` [{id, name, isthing?}]; `--images` the photo folder; the PNG folder is
`--panoptic-masks` or, by COCO convention, the JSON path without its suffix. A PNG pixel's
segment id is R + 256 G + 256^2 B (`masks.from_label_map`).

Each image also gets one MGLMM-style panoptic sample: "Sure, the image contains <p> a </p> [SEG],
... and <p> c </p> [SEG]." where repeated names become name-1, name-2, ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from annotators.images import read_image_bytes, resolve_inside
from pipelines.ingest.base import (
    IngestError,
    ItemError,
    ItemResult,
    ReadContext,
    error_item,
    require_list,
)
from pipelines.ingest.jsonfiles import load_json
from schemas import masks
from schemas.grounding import GroundedText
from schemas.options.ingest import IngestOptions

PRIMARY = "segments"
QUESTION = "Please segment everything in the image and name each region."


def list_items(options: IngestOptions) -> Iterator[dict]:
    data = load_json(options.source, options.max_json_mb)
    if not isinstance(data, dict):
        raise IngestError(f"{options.source}: a panoptic file is a JSON object")
    categories = {str(c["id"]): c["name"] for c in require_list(data.get("categories"), "categories",
                                                                  options.source)}
    images = {str(e.get("id")): e for e in require_list(data.get("images"), "images", options.source)
              if isinstance(e, dict)}
    for ann in require_list(data.get("annotations"), "annotations", options.source):
        ref = f"panoptic annotation {ann.get('file_name') if isinstance(ann, dict) else ann!r}"
        entry = images.get(str(ann.get("image_id"))) if isinstance(ann, dict) else None
        if entry is None:
            yield error_item(ref, "unknown_image", ann)
            continue
        yield {"ref": ref, "image": entry, "annotation": ann, "categories": categories}


def _png_root(ctx: ReadContext):
    options = ctx.options
    return options.panoptic_masks or options.source.with_suffix("")


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    entry, ann, categories = item["image"], item["annotation"], item["categories"]
    image = ctx.load_image(entry["file_name"], result, expect=(entry.get("height"), entry.get("width")))
    png = read_image_bytes(resolve_inside(_png_root(ctx), ann["file_name"]))
    by_id = masks.from_label_map(png)
    if by_id:
        size = next(iter(by_id.values()))["size"]
        if tuple(size) != (image.height, image.width):
            raise ItemError("size_mismatch", f"PNG {ann['file_name']} is {size[0]}x{size[1]}, "
                            f"image is {image.height}x{image.width}")
    rows, names = [], []
    for info in ann["segments_info"]:
        ref = f"segment {info.get('id')} of {ann['file_name']}"
        name = categories.get(str(info.get("category_id")))
        if name is None:
            result.reject(ref, "unknown_category", info)
            continue
        rle = by_id.get(int(info["id"]))
        if rle is None:
            result.reject(ref, "empty_mask", f"no pixel of id {info['id']} in the PNG | {info}")
            continue
        rows.append(ctx.segment_row(image, ("panoptic", info["id"]), rle, category=name))
        names.append(name)
    for row in rows:
        result.add("segments", row)
    if rows:
        result.add("segcap", panoptic_sample(ctx, image, rows, names))


def panoptic_sample(ctx: ReadContext, image, rows: list[dict], names: list[str]) -> dict:
    totals, seen = Counter(names), Counter()
    labels = []
    for name in names:
        seen[name] += 1
        labels.append(f"{name}-{seen[name]}" if totals[name] > 1 else name)
    answer = GroundedText().add("Sure, the image contains ")
    for k, label in enumerate(labels):
        if k:
            answer.add(" and " if k == len(labels) - 1 else ", ")
        answer.add_phrase(label)
    answer.add(".")
    return ctx.segcap_row(image, "panoptic", task="panoptic", question=QUESTION, answer=answer,
                          masks_=[r["mask"] for r in rows], labels=labels,
                          segment_ids=[r["segment_id"] for r in rows])
