"""What every reader shares: the item protocol, safe image loading, row builders, the stage.

A reader lists *work items* (small JSON-able dicts, one per image or frame, each carrying the
annotations it needs) and decodes one item into rows. Listing is cheap and happens up front;
decoding (image bytes, masks) runs inside `IngestStage.process`, batch by batch, so ingest goes
through the same runner (and, later, Ray) as every other stage.

An item that cannot be used at all raises a `SegcapError` (`ItemError`, `ImageError`,
`MaskError`); the stage turns it into one reject with the error's reason and goes on. A bad
annotation inside a good item is rejected on its own. Readers check the fields they read and
raise `ItemError(Reason.BAD_FIELD, ...)` themselves: any other exception is a bug in the reader,
not bad input. Under the test suite (`SEGCAP_RAISE_READER_BUGS` set) it propagates; at run time
the item becomes a `reader_bug` reject, counted apart from bad input, and the step fails.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotators.images import decode_image, image_row, read_image_bytes, resolve_inside
from schemas import masks, rows
from schemas.errors import SegcapError
from schemas.grounding import GroundedText
from schemas.ids import ingested_sample_id, ingested_segment_id
from schemas.options.ingest import IngestOptions
from schemas.provenance import make_provenance
from schemas.rejects import Reason


class ItemError(SegcapError):
    """A work item (or one annotation in it) that cannot be used; `reason` goes to rejects."""


class IngestError(ValueError):
    """The whole input is unusable (missing file, not JSON, wrong top-level shape)."""


# Set (by tests/conftest.py) to let a reader's unexpected exception propagate instead of
# becoming a `reader_bug` reject, so the test that hit it fails.
RAISE_READER_BUGS_ENV = "SEGCAP_RAISE_READER_BUGS"
READER_BUGS = "reader_bugs"  # the counter of items a reader failed on with a bug

log = logging.getLogger(__name__)


def require_list(obj: Any, what: str, path: Path) -> list:
    if not isinstance(obj, list):
        raise IngestError(f"{path}: expected {what} to be a JSON list, got {type(obj).__name__}")
    return obj


def need(record: Any, key: str, kind: type | tuple[type, ...] = object, what: str = "the record") -> Any:
    """`record[key]` of input data, checked: a record that is not an object, a missing key or a
    value that is not `kind` is ItemError(bad_field) naming the key, so that readers never
    take a KeyError/TypeError for bad input (those are reader bugs)."""
    if not isinstance(record, dict):
        raise ItemError(Reason.BAD_FIELD, f"{what} must be an object, got {type(record).__name__}")
    if key not in record:
        raise ItemError(Reason.BAD_FIELD, f"{what} has no `{key}`")
    if not isinstance(record[key], kind):
        raise ItemError(Reason.BAD_FIELD, f"`{key}` of {what} is {type(record[key]).__name__}, "
                        f"not {getattr(kind, '__name__', kind)}")
    return record[key]


def as_int(value: Any, what: str) -> int:
    """An input number as int (as int() reads it); anything else is ItemError(bad_field)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ItemError(Reason.BAD_FIELD, f"{what} must be an integer, got {value!r}") from None


def error_item(ref: str, reason: Reason, raw: Any) -> dict:
    """An item already known to be bad at listing time; the stage turns it into a reject."""
    return {"ref": ref, "error": reason, "raw": raw}


@dataclass
class LoadedImage:
    image_id: str
    width: int
    height: int


@dataclass
class ItemResult:
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    rejects: list[tuple[str, Reason, Any]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)  # events worth a line in stats.json

    def add(self, config: str, row: dict) -> None:
        self.rows[config].append(row)

    def reject(self, ref: str, reason: Reason, raw: Any = "") -> None:
        self.rejects.append((ref, reason, raw))


class ReadContext:
    """Per-run state a reader's `decode` uses: options, the image root, ids already written."""

    def __init__(self, options: IngestOptions, created_at: str):
        self.options = options
        self.source = options.name()
        self.root = options.image_root()
        self.provenance = make_provenance(
            annotator=f"ingest:{options.format}", backend="source", created_at=created_at,
            params={"source": str(options.source)},
        )
        # Images are keyed by content: the same bytes under two names are written once.
        self.seen_images: set[str] = set()

    def load_image(self, relative: str, result: ItemResult, *, expect: tuple | None = None,
                   video_id: str | None = None, frame_index: int | None = None,
                   root: Path | None = None, source_id: Any = None) -> LoadedImage:
        """Resolve inside the root, read, probe/decode under the pixel limit, emit the images row."""
        if not isinstance(relative, str) or not relative:
            raise ItemError(Reason.BAD_FIELD, f"image path must be a non-empty string, got {relative!r}")
        path = resolve_inside(root or self.root, relative)
        data = read_image_bytes(path)
        row = image_row(data, relative, self.source, video_id=video_id, frame_index=frame_index,
                        max_pixels=self.options.max_pixels, embed=self.options.embed_images,
                        path=relative if self.options.embed_images else str(path))
        row["source_id"] = str(source_id) if source_id is not None else relative
        if self.options.decode_images:
            decode_image(data, self.options.max_pixels)
        if expect and all(v is not None for v in expect):
            height, width = as_int(expect[0], "height"), as_int(expect[1], "width")
            if (height, width) != (row["height"], row["width"]):
                raise ItemError(Reason.SIZE_MISMATCH, f"annotation says {height}x{width} (h x w) but "
                                f"{relative} is {row['height']}x{row['width']}")
        if row["image_id"] not in self.seen_images:
            self.seen_images.add(row["image_id"])
            result.add("images", row)
        return LoadedImage(row["image_id"], row["width"], row["height"])

    def segment_row(self, image: LoadedImage, key: Any, rle: dict, *, category: str | None,
                    parent_id: str | None = None, level: int = 0, track_id: int | None = None,
                    score: float | None = None, is_crowd: bool | None = None,
                    mask_source: str = "gt") -> dict:
        """A segment of this source, keyed by the source's own `key` for it."""
        return rows.segment_row(
            segment_id=ingested_segment_id(self.source, image.image_id, key),
            image_id=image.image_id, mask=rle, parent_id=parent_id, level=level,
            category=category, mask_source=mask_source, score=score, track_id=track_id,
            is_crowd=is_crowd,
        )

    def segcap_row(self, image: LoadedImage, key: Any, *, task: str, question: str,
                   answer: GroundedText, masks_: list[dict], labels: list[str],
                   segment_ids: list[str], granularity: str = "root",
                   subtree: str | None = None, source_id: Any = None) -> dict:
        """A sample of this source, keyed by the source's own `key` for it."""
        return rows.segcap_row(
            sample_id=ingested_sample_id(self.source, image.image_id, task, key),
            image_id=image.image_id, task=task, granularity=granularity, subtree=subtree,
            question=question, answer=answer.text, masks=masks_, labels=labels,
            spans=answer.spans, segment_ids=segment_ids, source=self.source,
            provenance=self.provenance, source_id=source_id,
        )


def box_mask(x: float, y: float, w: float, h: float, height: int, width: int) -> dict:
    """An (x, y, w, h) box as a mask clipped to the image (a polygon: edges round as COCO's do)."""
    box = [x, y, x + w, y, x + w, y + h, x, y + h]
    return masks.from_polygons([box], height, width).rle


def mask_for(obj: Any, image: LoadedImage) -> dict:
    """Any supported encoding -> RLE checked against the image size (clipping is allowed)."""
    return masks.to_rle(obj, image.height, image.width).rle
