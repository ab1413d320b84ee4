"""`refcoco`: referring expressions (RefCOCO/+/g, gRefCOCO) -> `images`, `segments`, `segcap`.

Input (`--source`), either:
- a folder holding `instances.json` (COCO instances: images, annotations, categories) and
  `refs.json`, or
- one JSON object with the COCO keys plus `refs`.
`refs` is a list of {image_id, ann_id, sentences: [{sent | raw}], ref_id?, split?}; `ann_id`
is one annotation id or a list (gRefCOCO; [] or [-1] means no target). A ref without
`ref_id` is keyed by its position in `refs`; a repeated `ref_id` is a `duplicate_id` reject;
`source_id` is the sentence's `sent_id` (else "<ref>:<sentence index>"). The original
`refs(unc).p` is a pickle: convert it to JSON first (we never unpickle input data).

One `segcap` row (task "referring") per sentence: "Sure, <p> sentence </p> [SEG]." with the
target mask (several targets are unioned into one mask), or "Sorry, I don't see <sentence>
in the image." with no mask when there is no target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pipelines.ingest.base import (
    IngestError,
    ItemResult,
    ReadContext,
    error_item,
    require_list,
)
from pipelines.ingest.coco import category_table, decode_annotations
from pipelines.ingest.jsonfiles import load_json
from schemas import masks
from schemas.grounding import GroundedText
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "segcap"


def _load(options: IngestOptions) -> dict:
    if options.source.is_dir():
        data = load_json(options.source / "instances.json", options.max_json_mb)
        data["refs"] = load_json(options.source / "refs.json", options.max_json_mb)
    else:
        data = load_json(options.source, options.max_json_mb)
    if not isinstance(data, dict) or "refs" not in data:
        raise IngestError(f"{options.source}: expected COCO instances plus a `refs` list")
    return data


def _targets(ann_id) -> list[str]:
    ids = ann_id if isinstance(ann_id, list) else [ann_id]
    return [str(i) for i in ids if i is not None and i != -1]


def list_items(options: IngestOptions) -> Iterator[dict]:
    data = _load(options)
    categories = category_table(data.get("categories", []), options.source)
    anns = {str(a.get("id")): a for a in require_list(data.get("annotations"), "annotations",
                                                        options.source) if isinstance(a, dict)}
    images = {str(e.get("id")): e for e in require_list(data.get("images"), "images", options.source)
              if isinstance(e, dict)}
    refs_by_image = defaultdict(list)
    used_ids: set[str] = set()
    for index, ref in enumerate(require_list(data["refs"], "refs", options.source)):
        if not isinstance(ref, dict):
            yield error_item(f"refs[{index}]", Reason.BAD_FIELD, ref)
            continue
        # `ref_id` is optional: a ref without one is keyed by its position, so ids stay unique.
        key = ref["ref_id"] if ref.get("ref_id") is not None else f"refs[{index}]"
        label = f"ref {key}"
        if str(ref.get("image_id")) not in images:
            yield error_item(label, Reason.UNKNOWN_IMAGE, ref)
            continue
        if not isinstance(ref.get("sentences"), list):
            yield error_item(label, Reason.BAD_FIELD, ref)
            continue
        if str(key) in used_ids:
            yield error_item(label, Reason.DUPLICATE_ID, f"ref_id {key} was already used; the first "
                             f"ref is kept | {ref}")
            continue
        used_ids.add(str(key))
        refs_by_image[str(ref["image_id"])].append({**ref, "_key": key})
    for image_key, refs in refs_by_image.items():
        wanted = {t for ref in refs for t in _targets(ref.get("ann_id"))}
        yield {
            "ref": f"image {image_key} ({images[image_key].get('file_name')})",
            "image": images[image_key],
            "annotations": [anns[t] for t in sorted(wanted) if t in anns],
            "categories": categories,
            "refs": refs,
        }


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    entry = item["image"]
    image = ctx.load_image(entry.get("file_name"), result, expect=(entry.get("height"), entry.get("width")),
                           source_id=entry.get("id"))
    segments = decode_annotations(item["annotations"], item["categories"], image, ctx, result)
    for ref in item["refs"]:
        label = f"ref {ref['_key']} of image {entry.get('id')}"
        targets = _targets(ref.get("ann_id"))
        missing = [t for t in targets if t not in segments]
        if missing:
            result.reject(label, Reason.UNKNOWN_ANNOTATION, f"annotations {missing} unusable | {ref}")
            continue
        rows = [segments[t] for t in targets]
        for k, sentence in enumerate(ref["sentences"]):
            text = (sentence.get("sent") or sentence.get("raw")) if isinstance(sentence, dict) else None
            if not isinstance(text, str) or not text.strip():
                result.reject(f"{label} sentence {k}", Reason.BAD_FIELD, sentence)
                continue
            result.add("segcap", _sample(ctx, image, ref, k, text.strip(), rows))


def _sample(ctx: ReadContext, image, ref: dict, k: int, text: str, rows: list[dict]) -> dict:
    question = f"Please segment {text} in the image."
    if not rows:
        answer = GroundedText().add(f"Sorry, I don't see {text} in the image.")
        mask_list, labels = [], []
    else:
        answer = GroundedText().add("Sure, ").add_phrase(text).add(".")
        mask_list = [masks.union([r["mask"] for r in rows])]
        labels = [rows[0]["category"] or text]
    sentence = ref["sentences"][k]
    sent_id = sentence.get("sent_id") if isinstance(sentence, dict) else None
    return ctx.segcap_row(image, ("referring", ref["_key"], k), task="referring",
                          question=question, answer=answer, masks_=mask_list, labels=labels,
                          segment_ids=[r["segment_id"] for r in rows],
                          source_id=sent_id if sent_id is not None else f"{ref['_key']}:{k}")
