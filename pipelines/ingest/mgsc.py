"""`mgsc`: MGLMM multi-granularity SegCap records -> `images`, `segments`, `segcap` (task "mgsc").

Input: records (see `records.py` for the file layout) of the form
{"file_name": "sa_1.jpg", "label": "root" | "subtree: <label>",
 "gcg_caption": "A <k0>dog</k0> on <k1>grass</k1>.", "gcg_labels": ["k0", "k1"],
 "k0": {"mask": "<JSON string of an RLE with base64 counts>", "label": "dog"}, ...}.
`<KEY>phrase</KEY>` becomes `<p> phrase </p> [SEG]`; masks follow the tags' order in the caption.
Root-record masks are level-0 segments; a subtree record's masks are level-1 segments under the
root segment with the subtree's label when the same image has one (else level-0 roots).
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.ingest.base import ItemError, ItemResult, ReadContext, need
from pipelines.ingest.records import emit_grounded_records, grouped_items
from schemas import masks
from schemas.grounding import GroundedText, key_tags_to_grounded
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "segcap"
ROOT_QUESTION = "Please provide a detailed description of all the objects in the image."
SUBTREE_QUESTION = "Please provide a detailed description of the parts for {label} in the image."


def list_items(options: IngestOptions) -> Iterator[dict]:
    return grouped_items(options, "file_name")


def _subtree(record: dict) -> str | None:
    label = record.get("label", "root")
    if label == "root":
        return None
    if isinstance(label, str) and label.startswith("subtree:") and label[8:].strip():
        return label[8:].strip()
    raise ItemError(Reason.BAD_FIELD, f"label must be 'root' or 'subtree: <label>', got {label!r}")


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    image = ctx.load_image(item["file_name"], result)
    records = sorted(item["records"], key=lambda r: r[1].get("label") != "root")  # roots first
    roots_by_label: dict[str, str] = {}
    emit_grounded_records(
        records, lambda record: _decode_record(record, image, ctx, roots_by_label), result)


def _decode_record(record: dict, image, ctx: ReadContext, roots_by_label: dict):
    subtree = _subtree(record)
    keys = record.get("gcg_labels")
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise ItemError(Reason.BAD_FIELD, "gcg_labels must be a list of key names")
    caption = need(record, "gcg_caption", str)
    text, order, spans = key_tags_to_grounded(caption, keys) if keys else (caption, [], [])
    if sorted(order) != sorted(keys):
        raise ItemError(Reason.BAD_CAPTION, f"caption tags {order} do not match gcg_labels {keys}")
    for key, (start, end) in zip(order, spans, strict=True):
        if start == end:  # "<k0></k0>" or only spaces: a [SEG] with no words to ground
            raise ItemError(Reason.BAD_CAPTION, f"tag <{key}> is empty")
    answer = GroundedText(text=text, phrases=[], spans=spans)
    mask_list, labels, segments = [], [], []
    for key in order:
        entry = need(record, key, dict)
        rle = masks.from_mglmm(need(entry, "mask", str, f"`{key}`"), image.height, image.width)
        label = str(entry.get("label") or key)
        parent = roots_by_label.get(subtree) if subtree else None
        # A subtree whose object has no root record in the image has nothing to hang under:
        # its masks are roots (level 0), never level-1 rows without a parent.
        row = ctx.segment_row(image, ("mask", rle["counts"]), rle, category=label,
                              parent_id=parent, level=0 if parent is None else 1)
        if not subtree:
            roots_by_label.setdefault(label, row["segment_id"])
        mask_list.append(rle)
        labels.append(label)
        segments.append(row)
    question = SUBTREE_QUESTION.format(label=subtree) if subtree else ROOT_QUESTION
    sample = ctx.segcap_row(image, ("mgsc", record.get("label", "root"), caption),
                            task="mgsc", question=question, answer=answer, masks_=mask_list,
                            labels=labels, segment_ids=[s["segment_id"] for s in segments],
                            granularity="subtree" if subtree else "root", subtree=subtree)
    return sample, segments
