"""Shared by the score, select and dedup stages: instruction rows out of Arrow, image references.

An instruction's image reference is its `image_id`. It resolves when the dataset's `images`
config holds that id with embedded bytes, or with a path to a file that exists. A sample whose
text carries `<image>` but whose `image_id` is null references an image that is not there.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotators.images import ImageError, decode_image, image_bytes, resolve_image_path
from pipelines.store.side_inputs import SideInputs, one_of
from schemas.contract import CAPABILITY_FIELDS


def rows_or_errors(batch: pa.Table) -> list[dict | UnicodeDecodeError]:
    """Python rows; a row whose text is not valid UTF-8 comes back as its decoding error."""
    try:
        return batch.to_pylist()
    except UnicodeDecodeError:
        rows: list[dict | UnicodeDecodeError] = []
        for index in range(batch.num_rows):
            try:
                rows.append(batch.slice(index, 1).to_pylist()[0])
            except UnicodeDecodeError as exc:
                rows.append(exc)
        return rows


def duplicated_ids(side: SideInputs, config: str = "instructions") -> set[str]:
    ids = side.read(config, ["sample_id"]).column("sample_id").to_pylist()
    return {sample_id for sample_id, count in Counter(ids).items() if count > 1}


class ImageIndex:
    """image_id -> where its pixels are (embedded, or a file path), read once without the bytes."""

    def __init__(self, side: SideInputs):
        self.side = side
        self.roots = side.images().roots
        self.paths: dict[str, str | None] = {}
        if not side.has("images"):
            return
        table = side.read("images", {
            "image_id": pc.field("image_id"),
            "embedded": pc.is_valid(pc.field("image", "bytes")),
            "path": pc.field("image", "path"),
        })
        for image_id, embedded, path in zip(*(table.column(c).to_pylist()
                                              for c in ("image_id", "embedded", "path")), strict=True):
            self.paths[image_id] = None if embedded else path

    def problem(self, image_id: str | None, mentions_image: bool) -> str | None:
        """Why the reference does not resolve, or None when it does (or there is none)."""
        if image_id is None:
            return "the text has <image> but the sample has no image_id" if mentions_image else None
        if image_id not in self.paths:
            return f"image {image_id} is not in the images config"
        path = self.paths[image_id]
        if path is not None:
            try:  # the one resolver: inside the dataset directory or a recorded image root
                resolved = resolve_image_path(path, self.side.path, self.roots)
            except ImageError as exc:
                return f"image {image_id}: {exc}"
            if not os.path.isfile(resolved):
                return f"image {image_id} points at {path}, which does not exist"
        return None

    def pixels(self, image_ids: list[str], max_pixels: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Decoded RGB pixels of these images (one filtered read for the whole batch), and why
        the ones that could not be decoded failed."""
        wanted = sorted(set(image_ids))
        if not wanted:
            return {}, {}
        table = self.side.read("images", ["image_id", "image"], one_of("image_id", wanted))
        found: dict[str, np.ndarray] = {}
        errors: dict[str, str] = {}
        for image_id, image in zip(table.column("image_id").to_pylist(),
                                   table.column("image").to_pylist(), strict=True):
            try:
                data = image_bytes(image, self.side.path, self.roots)
                found[image_id] = decode_image(data, max_pixels).pixels
            except (ImageError, OSError) as exc:
                errors[image_id] = str(exc)
        return found, errors


def conversation_text(conversations) -> str:
    """The text of a conversation for embeddings: every string turn, <image> tokens dropped."""
    values = [t.get("value") for t in conversations or [] if isinstance(t, dict)]
    return "\n".join(v.replace("<image>", "").strip() for v in values if isinstance(v, str))


def capability_matrix(table: pa.Table) -> np.ndarray:
    """(n, 14) float32 scores from the `capability_scores` struct column; null -> NaN."""
    scores = table.column("capability_scores").combine_chunks()
    if scores.null_count:
        scores = scores.fill_null(pa.scalar({}, scores.type))
    columns = [scores.field(name).to_numpy(zero_copy_only=False) for name in CAPABILITY_FIELDS]
    return np.column_stack(columns).astype(np.float32) if columns else np.zeros((0, 0), np.float32)
