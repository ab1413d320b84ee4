"""Row builders: one function per row kind a producer writes, so the shape is written once.

Ingest readers, mask sources and `describe` all build `segments` and `segcap` rows here; the
ids come from `schemas.ids` (the producer picks the recipe that matches what it knows). Every
contract column is present in a built row, null where the producer has nothing to say.
"""

from __future__ import annotations

import re

from schemas import masks as codec

IMAGE_TOKEN = "<image>\n"  # LLaVA convention: the image precedes the first question
_IMAGE_TOKEN_AND_SPACE = re.compile(r"<image>\s*")


def segment_row(*, segment_id: str, image_id: str, mask: dict, parent_id: str | None = None,
                level: int = 0, category: str | None = None, mask_source: str = "gt",
                score: float | None = None, track_id: int | None = None,
                is_crowd: bool | None = None, bbox: list[float] | None = None,
                area: int | None = None) -> dict:
    """A `segments` row; bbox and area are derived from the mask unless the producer has them."""
    return {
        "segment_id": segment_id,
        "image_id": image_id,
        "parent_id": parent_id,
        "level": level,
        "mask": mask,
        "bbox": codec.bbox(mask) if bbox is None else bbox,
        "area": codec.area(mask) if area is None else int(area),
        "category": category,
        "mask_source": mask_source,
        "score": score,
        "track_id": track_id,
        "is_crowd": is_crowd,
    }


def conversation(question: str, answer: str) -> list[dict]:
    """One question about the image and its answer, as `conversations` turns."""
    return [{"from": "human", "value": IMAGE_TOKEN + question}, {"from": "gpt", "value": answer}]


def strip_image_token(text: str) -> str:
    """A turn's text without the `<image>` token (and the white space after it)."""
    return _IMAGE_TOKEN_AND_SPACE.sub("", text)


def segcap_row(*, sample_id: str, image_id: str, task: str, question: str, answer: str,
               masks: list[dict], labels: list[str], spans: list[list[int]],
               segment_ids: list[str], source: str, provenance: dict, granularity: str = "root",
               subtree: str | None = None, source_id: object = None) -> dict:
    """A `segcap` row: the k-th mask, label and segment id belong to the k-th [SEG] of `answer`."""
    return {
        "sample_id": sample_id,
        "image_id": image_id,
        "task": task,
        "granularity": granularity,
        "subtree": subtree,
        "conversations": conversation(question, answer),
        "masks": masks,
        "mask_labels": labels,
        "phrase_spans": spans,
        "segment_ids": segment_ids,
        "source": source,
        "provenance": provenance,
        "source_id": None if source_id is None else str(source_id),
    }


def answer_text(conversations: list[dict] | None) -> str:
    """The text the grounding refers to: the gpt turns joined by newlines (for the usual
    one-answer sample, that turn). `phrase_spans` are character offsets into this text and the
    k-th `[SEG]` in it is the k-th mask, across all answer turns."""
    return "\n".join(turn.get("value") or "" for turn in conversations or []
                     if turn.get("from") == "gpt")
