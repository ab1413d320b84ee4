"""The verify stages: a verdict for every grounded phrase (segcap) and every description.

`verify` rewrites `segcap` with a `verification` entry per phrase (the k-th phrase against the
k-th mask) and a `coverage` record; `verify_descriptions` rewrites `descriptions` with one entry
per description. Images and segments (side inputs) are read per batch, filtered to the batch's
images.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from annotators.verify.evidence import ImageEvidence, Verdict
from pipelines.engine.stage import Stage, StageOutput
from pipelines.stages.verifiers import build_verifier, load_evidence
from pipelines.store.side_inputs import one_of
from schemas.options.verify import VerifyOptions


class _VerifyBase(Stage):
    options_model = VerifyOptions
    # the pixels and segments behind what is verified, the vocabulary of segment categories;
    # the clip verifier calibrates on the captions' own regions (segcap)
    side_inputs = ("images", "segments", "segcap")
    replaces_input = True
    default_batch_size = 32

    @classmethod
    def calls_model(cls, settings: VerifyOptions) -> bool:
        return settings.verifier != "rules"

    def setup(self) -> None:
        table = self.side.read("segments", ["category"])
        vocabulary = sorted({c for c in table.column("category").to_pylist() if c})
        # None lets provenance take the step's pinned time (the engine pins it around setup),
        # so a resumed or repeated step writes the same created_at
        created_at = self.options.get("created_at")
        self.verifier = build_verifier(self.settings, vocabulary, created_at, self.side)

    def _evidence(self, image_ids: list[str], output: StageOutput) -> dict[str, ImageEvidence]:
        found, failed = load_evidence(self.side, image_ids)
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

    def process(self, batch: pa.Table) -> StageOutput:
        """Both stages: the batch's rows with their images' evidence, verdicts set in place by
        `_verify`, written back to the one config the stage replaces."""
        output = StageOutput()
        rows = batch.to_pylist()
        evidence = self._evidence([r.get("image_id") for r in rows], output)
        self._verify(rows, evidence, output)
        output.add_rows(self.outputs[0], rows)
        return output

    def _verify(self, rows: list[dict], evidence: dict[str, ImageEvidence],
                output: StageOutput) -> None:
        raise NotImplementedError


class VerifyStage(_VerifyBase):
    """Verdicts for the grounded phrases of every `segcap` sample, and its coverage."""

    name = "verify"
    input_config = "segcap"
    outputs = ("segcap",)

    def _verify(self, rows: list[dict], evidence: dict[str, ImageEvidence],
                output: StageOutput) -> None:
        results = self.verifier.verify_samples(rows, evidence)
        for row, (entries, coverage) in zip(rows, results, strict=True):
            if row["image_id"] not in evidence:
                output.counters["verify_no_image"] += 1
            self._count([e["_verdict"] for e in entries], output)
            row["verification"] = [_public(e) for e in entries]
            row["coverage"] = coverage


class VerifyDescriptionsStage(_VerifyBase):
    """Verdicts for every scene, instance and track description."""

    name = "verify_descriptions"
    input_config = "descriptions"
    outputs = ("descriptions",)

    def _verify(self, rows: list[dict], evidence: dict[str, ImageEvidence],
                output: StageOutput) -> None:
        tracks = self._track_categories([r for r in rows if r["scope"] == "track"])
        for row, entry in zip(rows, self.verifier.verify_descriptions(rows, evidence, tracks),
                              strict=True):
            self._count([entry["_verdict"]], output)
            row["verification"] = [_public(entry)]

    def _track_categories(self, rows: list[dict]) -> dict[tuple, set[str]]:
        """(video_id, track id) -> the categories its boxes carry."""
        videos = sorted({r["video_id"] for r in rows if r.get("video_id")})
        if not videos:
            return {}
        frames = self.side.read("images", ["image_id", "video_id"],
                                one_of("video_id", videos)).to_pylist()
        video_of = {f["image_id"]: f["video_id"] for f in frames}
        table = self.side.read("segments", ["image_id", "track_id", "category"],
                               one_of("image_id", sorted(video_of)))
        found: dict[tuple, set[str]] = {}
        for seg in table.to_pylist():
            if seg.get("track_id") is not None and seg.get("category"):
                key = (video_of[seg["image_id"]], str(seg["track_id"]))
                found.setdefault(key, set()).add(seg["category"])
        return found


def _public(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if not k.startswith("_")}

