"""The three verifiers behind one batch interface, turning verdicts into `verification` entries.

`verify_samples(rows, evidence)` gives, per segcap row, one entry per grounded phrase and the
caption's coverage; `verify_descriptions(rows, evidence, tracks)` one entry per description.
What a verifier cannot check is `unsure` with the reason, never a guess.
"""

from __future__ import annotations

import numpy as np

from annotators.verify import rules, words
from annotators.verify.captions import GroundedPhrase, grounded_phrases
from annotators.verify.coverage import caption_coverage
from annotators.verify.evidence import ImageEvidence, Verdict
from schemas.masks import decode
from schemas.provenance import make_provenance

NO_IMAGE = Verdict("unsure", None, "the sample's image is not in the dataset", ("no_image",))


class RulesRunner:
    name = "rules"

    def __init__(self, vocabulary: list[str], created_at: str | None, params: dict | None = None,
                 backend: str = "", model: str = "", prompt: str = ""):
        self.vocabulary = vocabulary
        self.provenance = make_provenance(annotator=f"verify-{self.name}", backend=backend,
                                          model=model, prompt_id=f"verify-{self.name}-v1",
                                          prompt=prompt, params=params or {}, created_at=created_at)

    def entry(self, target: str, verdict: Verdict) -> dict:
        return {"target": target, "score": verdict.score, "verdict": verdict.verdict,
                "reason": verdict.reason, "verifier": self.name, "provenance": self.provenance,
                "_verdict": verdict}

    # ---- segcap -------------------------------------------------------------------------
    def verify_samples(self, rows: list[dict], evidence: dict[str, ImageEvidence]):
        captions = []  # (row, its phrases, their masks, its image) for rows whose image is here
        for row in rows:
            image = evidence.get(row["image_id"])
            phrases = grounded_phrases(row)
            masks = [_mask(row, p.index) for p in phrases] if image is not None else []
            captions.append((row, phrases, masks, image))
        judged = iter(self.phrase_verdicts_batch([(p, m, i) for _, p, m, i in captions if i is not None]))
        results = []
        for row, phrases, _, image in captions:
            if image is None:
                results.append(([self.entry(f"phrase:{p.index}", NO_IMAGE) for p in phrases], None))
                continue
            verdicts = next(judged)
            results.append(([self.entry(f"phrase:{p.index}", v) for p, v in zip(phrases, verdicts, strict=True)],
                            caption_coverage(row, image)))
        return results

    def phrase_verdicts_batch(self, captions: list[tuple]) -> list[list[Verdict]]:
        """Verdicts for the phrases of each (phrases, masks, image) caption of a batch; a model
        verifier overrides this to send the whole batch to its backend at once."""
        return [self.phrase_verdicts(phrases, masks, image) for phrases, masks, image in captions]

    def phrase_verdicts(self, phrases: list[GroundedPhrase], masks: list[np.ndarray | None],
                        image: ImageEvidence) -> list[Verdict]:
        return [_missing_mask(p) if mask is None else
                rules.verify_region(p.text, p.context, mask, p.segment_id, image, self.vocabulary)
                for p, mask in zip(phrases, masks, strict=True)]

    # ---- descriptions -------------------------------------------------------------------
    def verify_descriptions(self, rows: list[dict], evidence: dict[str, ImageEvidence],
                            tracks: dict[tuple, set[str]]) -> list[dict]:
        return [self.entry("description", self.description_verdict(row, evidence, tracks))
                for row in rows]

    def description_verdict(self, row: dict, evidence: dict[str, ImageEvidence],
                            tracks: dict[tuple, set[str]]) -> Verdict:
        text = f"{row.get('short') or ''} {row.get('detailed') or ''}".strip()
        if row["scope"] == "track":
            return self._track(text, tracks.get((row.get("video_id"), row.get("target_id")), set()))
        if row["scope"] == "scene" and row.get("image_id") is None:
            return Verdict("unsure", None, "a video's scene description: its counts are not checked",
                           ("video_scene",))
        image = evidence.get(row.get("image_id"))
        if image is None:
            return NO_IMAGE
        if row["scope"] == "scene":
            return rules.verify_counts([row.get("short"), row.get("detailed")], image,
                                       self.vocabulary)
        if row.get("target_id") not in image.by_id:
            return Verdict("unsure", None, "the described segment is not in the dataset",
                           ("no_segment",))
        return rules.verify_region(text, text, image.mask(row["target_id"]), row["target_id"],
                                   image, self.vocabulary)

    def _track(self, text: str, categories: set[str]) -> Verdict:
        named = words.mentioned(text, self.vocabulary)
        checks = [("category", c in categories,
                   f"names {c}; the track's boxes are {', '.join(sorted(categories)) or 'unlabelled'}")
                  for c in named if categories]
        return rules.combine(checks)


def _mask(row: dict, index: int) -> np.ndarray | None:
    masks = row.get("masks") or []
    return decode(masks[index]).astype(bool) if index < len(masks) else None


def _missing_mask(phrase: GroundedPhrase) -> Verdict:
    return Verdict("fail", 0.0, f"phrase {phrase.index} has no mask", ("mask",))

