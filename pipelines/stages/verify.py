"""The verify stages: a verdict for every grounded phrase (segcap) and every description.

`verify` rewrites `segcap` with a `verification` entry per phrase (the k-th phrase against the
k-th mask) and a `coverage` record; `verify_descriptions` rewrites `descriptions` with one entry
per description. Images and segments are read per batch, filtered to the batch's images.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from annotators.verify.evidence import ImageEvidence, Verdict
from pipelines.store.image_source import DatasetImages
from pipelines.store.side_inputs import one_of, read_config
from pipelines.engine.stage import Stage, StageOutput
from pipelines.stages.verifiers import build_verifier, load_evidence
from schemas.options.verify import VerifyOptions


class _VerifyBase(Stage):
    options_model = VerifyOptions
    replaces_input = True
    default_batch_size = 32

    def __init__(self, batch_size: int = 32, resources=None, **options):
        super().__init__(batch_size, resources, **options)

    def setup(self) -> None:
        table = read_config(self.dataset_path, "segments", ["category"])
        vocabulary = sorted({c for c in table.column("category").to_pylist() if c}) \
            if "category" in table.column_names else []
        # None lets provenance take the step's pinned time (the engine pins it around setup),
        # so a resumed or repeated step writes the same created_at
        created_at = self.options.get("created_at")
        self.images = DatasetImages(self.dataset_path)
        self.verifier = build_verifier(self.settings, vocabulary, created_at, self.dataset_path)

    def _evidence(self, image_ids: list[str], output: StageOutput) -> dict[str, ImageEvidence]:
        found, failed = load_evidence(self.dataset_path, self.images, image_ids)
        for image_id, exc in failed:
            output.reject(self.name, image_id, exc.reason, str(exc))
        return found

    def _count(self, verdicts: list[Verdict], output: StageOutput) -> None:
        counts = Counter(f"verify_{v.verdict}" for v in verdicts)
        counts.update(f"verify_fail_{check}" for v in verdicts if v.verdict == "fail"
                      for check in v.failed_checks)
        counts.update(f"verify_unsure_{check}" for v in verdicts if v.verdict == "unsure"
                      for check in v.failed_checks)
        output.counters.update(counts)


class VerifyStage(_VerifyBase):
    """Verdicts for the grounded phrases of every `segcap` sample, and its coverage."""

    name = "verify"
    input_config = "segcap"
    outputs = ("segcap",)

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        rows = batch.to_pylist()
        evidence = self._evidence([r["image_id"] for r in rows], output)
        results = self.verifier.verify_samples(rows, evidence)
        for row, (entries, coverage) in zip(rows, results, strict=True):
            if row["image_id"] not in evidence:
                output.counters["verify_no_image"] += 1
            self._count([e["_verdict"] for e in entries], output)
            row["verification"] = [_public(e) for e in entries]
            row["coverage"] = coverage
        output.add_rows("segcap", rows)
        return output


class VerifyDescriptionsStage(_VerifyBase):
    """Verdicts for every scene, instance and track description."""

    name = "verify_descriptions"
    input_config = "descriptions"
    outputs = ("descriptions",)

    def process(self, batch: pa.Table) -> StageOutput:
        output = StageOutput()
        rows = batch.to_pylist()
        evidence = self._evidence([r.get("image_id") for r in rows], output)
        tracks = self._track_categories([r for r in rows if r["scope"] == "track"])
        for row, entry in zip(rows, self.verifier.verify_descriptions(rows, evidence, tracks),
                              strict=True):
            self._count([entry["_verdict"]], output)
            row["verification"] = [_public(entry)]
        output.add_rows("descriptions", rows)
        return output

    def _track_categories(self, rows: list[dict]) -> dict[tuple, set[str]]:
        """(video_id, track id) -> the categories its boxes carry."""
        videos = sorted({r["video_id"] for r in rows if r.get("video_id")})
        if not videos:
            return {}
        frames = read_config(self.dataset_path, "images", ["image_id", "video_id"],
                             one_of("video_id", videos)).to_pylist()
        video_of = {f["image_id"]: f["video_id"] for f in frames}
        table = read_config(self.dataset_path, "segments", ["image_id", "track_id", "category"],
                            one_of("image_id", sorted(video_of)))
        found: dict[tuple, set[str]] = {}
        for seg in table.to_pylist():
            if seg.get("track_id") is not None and seg.get("category"):
                key = (video_of[seg["image_id"]], str(seg["track_id"]))
                found.setdefault(key, set()).add(seg["category"])
        return found


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if not k.startswith("_")}

