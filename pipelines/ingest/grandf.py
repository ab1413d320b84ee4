"""`grandf`: GLaMM GranD-f grounded caption generation records -> `images`, `segments`, `segcap` (gcg).

Input: records (see `records.py` for the file layout) of the form
{"file_name": "x.jpg", "caption": "A man rides a horse.",
 "groundings": {"A man": {"token_positives": [0, 5], "rle_masks": [RLE, ...]}, ...}}.
Each phrase's span in the caption becomes `<p> phrase </p> [SEG]`; its RLEs (compressed or
uncompressed, of the image size) are unioned into one mask. Phrases are ordered by span start;
overlapping spans are rejected. `mask_labels` are the grounding keys.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.ingest.base import ItemError, ItemResult, ReadContext, as_int, need
from pipelines.ingest.records import emit_grounded_records, grouped_items
from schemas import masks
from schemas.grounding import GroundedText
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "segcap"
QUESTION = ("Could you please give me a detailed description of the image? Please respond with "
            "interleaved segmentation masks for the corresponding parts of the answer.")


def list_items(options: IngestOptions) -> Iterator[dict]:
    return grouped_items(options, "file_name")


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    image = ctx.load_image(item["file_name"], result)
    emit_grounded_records(item["records"], lambda record: _decode_record(record, image, ctx), result)


def _spans(caption: str, groundings: dict) -> list[tuple[int, int, str, dict]]:
    spans = []
    for phrase, grounding in groundings.items():
        positives = need(grounding, "token_positives", list, f"the grounding of {phrase!r}")
        if len(positives) != 2:
            raise ItemError(Reason.BAD_FIELD, f"token_positives of {phrase!r} is not [start, end]")
        start, end = (as_int(v, f"a token position of {phrase!r}") for v in positives)
        if not 0 <= start < end <= len(caption):
            raise ItemError(Reason.BAD_SPAN, f"span [{start}, {end}] of {phrase!r} is outside the caption")
        spans.append((start, end, phrase, grounding))
    spans.sort(key=lambda s: s[0])
    for (_, end, a, _), (start, _, b, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ItemError(Reason.BAD_SPAN, f"spans of {a!r} and {b!r} overlap")
    return spans


def _decode_record(record: dict, image, ctx: ReadContext):
    caption = record.get("caption")
    if not isinstance(caption, str) or not isinstance(record.get("groundings"), dict):
        raise ItemError(Reason.BAD_FIELD, "caption must be a string and groundings an object")
    answer = GroundedText()
    mask_list, labels, segments = [], [], []
    last = 0
    for start, end, phrase, grounding in _spans(caption, record["groundings"]):
        rles = need(grounding, "rle_masks", what=f"the grounding of {phrase!r}")
        if not isinstance(rles, list) or not rles:
            raise ItemError(Reason.EMPTY_MASK, f"phrase {phrase!r} has no rle_masks")
        parts = [masks.from_rle(r, image.height, image.width, allow_empty=True) for r in rles]
        rle = masks.union(parts)
        if masks.area(rle) == 0:
            raise ItemError(Reason.EMPTY_MASK, f"the masks of {phrase!r} are empty")
        answer.add(caption[last:start]).add_phrase(caption[start:end])
        last = end
        row = ctx.segment_row(image, ("mask", rle["counts"]), rle, category=phrase)
        mask_list.append(rle)
        labels.append(phrase)
        segments.append(row)
    answer.add(caption[last:])
    sample = ctx.segcap_row(image, ("gcg", caption), task="gcg", question=QUESTION, answer=answer,
                            masks_=mask_list, labels=labels,
                            segment_ids=[s["segment_id"] for s in segments])
    return sample, segments
