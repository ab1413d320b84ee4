"""DedupStage: mark exact, near-image and semantic duplicates in `instructions` (`duplicate_of`).

A global step. `setup` orders all samples by sample_id (the earliest of a group is the original,
so the choice is deterministic) and finds:
- exact duplicates: the same conversation on the same image. Near-duplicate images (64-bit DCT
  hashes within `image_hash_max_bits`, neighbours from a faiss binary index) count as the same
  image, so a re-encoded or resized copy of a sample is caught too (`near_image`);
- semantic duplicates (SemDeDup): spherical k-means on the text embeddings (faiss, niter 100,
  seed 1234), then inside each cluster, members of the same (canonical) image only, ordered
  hardest first (farthest from the centroid; `semantic_keep`), a sample whose cosine
  similarity to an earlier one exceeds 1 - eps. Same text on a different image is not a
  duplicate; text-only samples (no image) are compared with each other.
`process` writes `duplicate_of` (the kept original's sample_id, null for originals) and the extra
column `duplicate_reason`. Duplicates stay in the table, marked; selection leaves them out.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np
import pyarrow as pa

from annotators.images import ImageError, decode_image
from annotators.selection.dedup import (
    dct_hash,
    exact_duplicates,
    near_duplicate_images,
    semantic_duplicates,
)
from pipelines.engine.stage import Stage, StageOutput
from pipelines.stages.instruction_rows import conversation_text
from schemas.budgets import DECODE_MAX_PIXELS
from schemas.options.scoring import DedupOptions

IMAGE_BATCH = 64


class DedupStage(Stage):
    name = "dedup"
    options_model = DedupOptions
    input_config = "instructions"
    side_inputs = ("instructions", "images")  # the whole config; its images' pixels (hashes)
    outputs = ("instructions",)
    primary_output = "instructions"
    replaces_input = True
    default_batch_size = 4096

    def setup(self) -> None:
        self.original_of: dict[str, str] = {}
        self.reason_of: dict[str, str] = {}
        self.found: Counter = Counter()
        table = self.side.read("instructions", ["sample_id", "image_id", "conversations"])
        order = np.argsort(np.asarray(table.column("sample_id").to_pylist(), dtype=object), kind="stable")
        table = table.take(pa.array(order))
        ids = table.column("sample_id").to_pylist()
        image_ids = table.column("image_id").to_pylist()
        conversations = table.column("conversations").to_pylist()
        canonical = self._canonical_images(image_ids)
        if self.settings.exact or self.settings.near_images:
            keys = [_content_key(canonical.get(i, i), c) for i, c in zip(image_ids, conversations, strict=True)]
            for index, original in enumerate(exact_duplicates(keys)):
                if original >= 0:
                    same_image = image_ids[index] == image_ids[original]
                    self._mark(ids[index], ids[original], "exact" if same_image else "near_image")
        if self.settings.semantic:
            self._semantic(ids, [canonical.get(i, i) for i in image_ids], conversations)
        for sample_id, original in self.original_of.items():  # an exact copy of a sample that
            while original in self.original_of:  # SemDeDup then dropped points at what it kept
                original = self.original_of[original]
            self.original_of[sample_id] = original

    def _mark(self, sample_id: str, original: str, reason: str) -> None:
        if sample_id != original and sample_id not in self.original_of:
            self.original_of[sample_id] = original
            self.reason_of[sample_id] = reason
            self.found[reason] += 1

    def _canonical_images(self, image_ids: list) -> dict[str, str]:
        """image_id -> the image_id its near-duplicate group is known by (the smallest id)."""
        if not self.settings.near_images or not self.side.has("images"):
            return {}
        wanted = {i for i in image_ids if i is not None}
        hashes: dict[str, np.ndarray] = {}
        images = self.side.images()
        for batch in self.side.batches("images", IMAGE_BATCH, columns=["image_id", "image"]):
            for image_id, image in zip(batch.column("image_id").to_pylist(),
                                       batch.column("image").to_pylist(), strict=True):
                if image_id not in wanted or image_id in hashes:
                    continue
                try:
                    data = images.read(image)  # the one resolver: never a file outside the roots
                    hashes[image_id] = dct_hash(decode_image(data, DECODE_MAX_PIXELS).pixels)
                except (ImageError, OSError):
                    self.found["image_unreadable"] += 1  # not hashed: only exact matching applies
        names = sorted(hashes)
        if not names:
            return {}
        original = near_duplicate_images(np.stack([hashes[n] for n in names]),
                                         self.settings.image_hash_max_bits)
        return {name: names[o] if o >= 0 else name for name, o in zip(names, original, strict=True)}

    def _semantic(self, ids: list[str], images: list, conversations: list) -> None:
        from annotators.embeddings import TextEmbedder

        options = self.settings
        remaining = [i for i, sample_id in enumerate(ids) if sample_id not in self.original_of]
        if len(remaining) < 2:
            return
        embedder = TextEmbedder(options.embedding_model, options.embedding_cache,
                                options.embedding_batch_size)
        vectors = embedder.embed([conversation_text(conversations[i]) for i in remaining])
        # same text on another image is not a duplicate: compare only within one (canonical) image
        import pandas as pd  # here: the CLI imports every stage module to build its flags

        image_groups = pd.factorize(pd.Series([images[i] or "" for i in remaining], dtype=object))[0]
        original = semantic_duplicates(vectors, options.semantic_eps, options.semantic_clusters,
                                       options.seed, options.semantic_keep, groups=image_groups)
        for position, kept in enumerate(original):
            if kept >= 0:
                self._mark(ids[remaining[position]], ids[remaining[kept]], "semantic")

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        ids = batch.column("sample_id").to_pylist()
        duplicate_of = pa.array([self.original_of.get(i) for i in ids], pa.string())
        reasons = pa.array([self.reason_of.get(i, "") for i in ids], pa.string())
        table = batch.set_column(batch.schema.get_field_index("duplicate_of"), "duplicate_of", duplicate_of)
        if "duplicate_reason" in table.column_names:
            table = table.drop_columns(["duplicate_reason"])
        output.tables["instructions"] = table.append_column("duplicate_reason", reasons)
        output.counters.update(f"duplicates_{self.reason_of[i]}" for i in ids if i in self.reason_of)
        return output


def _content_key(image_id: str | None, conversations) -> str:
    text = json.dumps([image_id, conversations], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
