"""Builds the chosen verifier for a stage: loads its model, calibrates CLIP on the dataset."""

from __future__ import annotations

from annotators.verify.runners import RulesRunner
from pipelines.store.side_inputs import SEGMENT_COLUMNS, SideInputs, image_pixels, one_of
from schemas.options.verify import VerifyOptions


def build_verifier(settings: VerifyOptions, vocabulary: list[str], created_at: str | None,
                   side: SideInputs) -> RulesRunner:
    if settings.verifier == "rules":
        return RulesRunner(vocabulary, created_at, params={"thresholds": "annotators.verify.rules"})
    if settings.verifier == "clip":
        return _clip(settings, vocabulary, created_at, side)
    from annotators.backends import make_backend
    from annotators.verify.model_runners import LmmRunner

    backend = make_backend(settings.backend, model=settings.model, base_url=settings.base_url,
                           **settings.backend_options())
    return LmmRunner(vocabulary, created_at, backend, settings.backend, settings.model or "")


def _clip(settings: VerifyOptions, vocabulary, created_at, side: SideInputs):
    from annotators.verify.clip import ClipVerifier, calibrated_threshold
    from annotators.verify.model_runners import ClipRunner

    clip = ClipVerifier(settings.model, device=settings.device,
                        trust_remote_code=settings.trust_remote_code, margin=settings.clip_margin)
    if settings.clip_threshold is not None:
        return ClipRunner(vocabulary, created_at, clip, settings.clip_threshold,
                          settings.clip_margin, {"calibrated": False})
    probe = ClipRunner(vocabulary, created_at, clip, -1.0, settings.clip_margin, {})
    own = _own_similarities(probe, side, settings.calibration_samples)
    threshold = calibrated_threshold(own, settings.calibration_quantile)
    return ClipRunner(vocabulary, created_at, clip, threshold, settings.clip_margin,
                      {"calibrated": True, "quantile": settings.calibration_quantile,
                       "calibrated_on": len(own)})


def load_evidence(side: SideInputs, image_ids) -> tuple[dict, list]:
    """ImageEvidence (pixels + segment rows) per image id, and (image_id, ImageError) for the
    images that cannot be read: one read of `images` and `segments`, filtered to the ids."""
    from annotators.images import ImageError
    from annotators.verify.evidence import ImageEvidence

    ids = sorted({i for i in image_ids if i})
    rows = side.read("images", ["image_id", "image", "file_name"], one_of("image_id", ids)).to_pylist()
    segments = side.rows_by_image("segments", SEGMENT_COLUMNS, ids)
    images = side.images()
    found, failed = {}, []
    for row in rows:
        try:
            pixels = image_pixels(row, images)
        except ImageError as exc:
            failed.append((row["image_id"], exc))
            continue
        found[row["image_id"]] = ImageEvidence(row["image_id"], pixels, segments.get(row["image_id"], []))
    return found, failed


def _own_similarities(runner, side: SideInputs, limit: int) -> list[float]:
    """Each phrase's similarity to its own region, over the first `limit` segcap samples."""
    from annotators.verify.captions import grounded_phrases
    from annotators.verify.runners import _mask

    samples = []  # only the first `limit` rows are read, never the whole config
    for batch in side.batches("segcap", min(limit, 256),
                              ["image_id", "conversations", "masks", "segment_ids"]):
        samples.extend(batch.to_pylist()[: limit - len(samples)])
        if len(samples) >= limit:
            break
    evidence, _ = load_evidence(side, [s["image_id"] for s in samples])
    own = []
    for sample in samples:
        image = evidence.get(sample["image_id"])
        phrases = grounded_phrases(sample)
        masks = [_mask(sample, p.index) for p in phrases]
        usable = [(p.text, m) for p, m in zip(phrases, masks, strict=True)
                  if image is not None and m is not None and m.shape == image.shape and m.any()]
        if usable:
            sims = runner.similarities([t for t, _ in usable], [m for _, m in usable], image)
            own.extend(float(sims[i, i]) for i in range(len(usable)))
    return own
