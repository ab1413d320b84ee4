"""What a verifier measures a phrase against: the image's pixels and its annotated segments.

`ImageEvidence` holds one image and its segment rows (any mask source); masks are decoded
lazily, at most once each. `Verdict` is one checked phrase or description.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from annotators.describe.evidence import COLOUR_PROTOTYPES, nearest_colour
from schemas.masks import decode

_NAMES = list(COLOUR_PROTOTYPES)


def colour_index(pixels: np.ndarray) -> np.ndarray:
    """Per pixel, the nearest colour prototype (the rule of `evidence.colour_names`), computed
    once per image so each phrase's colour check is a count."""
    return nearest_colour(pixels.reshape(-1, pixels.shape[-1])).reshape(pixels.shape[:2])


def colour_shares(index: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Share of the masked pixels nearest to each colour prototype."""
    picked = index[mask]
    if picked.size == 0:
        return {}
    counts = np.bincount(picked, minlength=len(_NAMES)) / picked.size
    return {name: float(share) for name, share in zip(_NAMES, counts, strict=True)}


@dataclass
class Verdict:
    verdict: str  # pass | fail | unsure
    score: float | None
    reason: str
    failed_checks: tuple[str, ...] = ()


@dataclass
class ImageEvidence:
    image_id: str
    pixels: np.ndarray
    segments: list[dict] = field(default_factory=list)
    _masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_id = {s["segment_id"]: s for s in self.segments}
        self.children: dict[str, list[str]] = {}
        for s in self.segments:
            if s.get("parent_id"):
                self.children.setdefault(s["parent_id"], []).append(s["segment_id"])

    @property
    def colours(self) -> np.ndarray:
        if "_colour_index" not in self.__dict__:
            self.__dict__["_colour_index"] = colour_index(self.pixels)
        return self.__dict__["_colour_index"]

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[:2]

    def mask(self, segment_id: str) -> np.ndarray:
        if segment_id not in self._masks:
            self._masks[segment_id] = decode(self.by_id[segment_id]["mask"]).astype(bool)
        return self._masks[segment_id]

    def related_categories(self, segment_id: str | None) -> set[str]:
        """Categories a phrase about this segment may name: its own, its ancestors', its parts'."""
        if segment_id not in self.by_id:
            return set()
        found, node = set(), self.by_id[segment_id]
        while node is not None:
            if node.get("category"):
                found.add(node["category"])
            node = self.by_id.get(node.get("parent_id"))
        stack = list(self.children.get(segment_id, []))
        while stack:
            child = self.by_id[stack.pop()]
            if child.get("category"):
                found.add(child["category"])
            stack.extend(self.children.get(child["segment_id"], []))
        return found

    def labelled(self) -> list[dict]:
        """Segments with a category, crowd regions excluded (they are never one instance)."""
        return [s for s in self.segments if s.get("category") and not s.get("is_crowd")]

    def instances(self) -> list[dict]:
        """Whole objects: ground truth where the image has it, any source otherwise."""
        roots = [s for s in self.segments if s.get("level") == 0 and not s.get("is_crowd")]
        truth = [s for s in roots if s.get("mask_source") == "gt"]
        return truth or roots
