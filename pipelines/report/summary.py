"""Dataset-level aggregates, accumulated row by row while the store loads (bounded memory).

Every aggregate is a counter over a bounded key space (rounded values, names), never a list of
rows, so the summary of a million samples is as small as the summary of ten.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from schemas.contract import CAPABILITY_FIELDS


def _rounded(value: float | None, step: float) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(round(value / step) * step, 6)


@dataclass
class Summary:
    counts: Counter = field(default_factory=Counter)  # rows per config
    sources: Counter = field(default_factory=Counter)  # images per source
    instruction_sources: Counter = field(default_factory=Counter)
    tasks: Counter = field(default_factory=Counter)
    segcap_granularity: Counter = field(default_factory=Counter)
    granularity: dict[str, Counter] = field(default_factory=dict)  # def -> rounded value counts
    scores_pool: dict[str, Counter] = field(default_factory=dict)  # capability -> value counts
    scores_selected: dict[str, Counter] = field(default_factory=dict)
    styles_pool: Counter = field(default_factory=Counter)
    styles_selected: Counter = field(default_factory=Counter)
    rejects: Counter = field(default_factory=Counter)  # (stage, reason) -> count

    def observe(self, config: str, row: dict) -> None:
        self.counts[config] += 1
        handler = getattr(self, f"_on_{config}", None)
        if handler is not None:
            handler(row)

    def _on_images(self, row: dict) -> None:
        self.sources[row["source"] or "?"] += 1

    def _on_granularity_pairs(self, row: dict) -> None:
        value = _rounded(row["granularity"], 0.05)
        if value is not None:
            self.granularity.setdefault(row["granularity_def"] or "?", Counter())[value] += 1

    def _on_segcap(self, row: dict) -> None:
        self.tasks[row["task"] or "?"] += 1
        self.segcap_granularity[row["granularity"] or "?"] += 1

    def _on_instructions(self, row: dict) -> None:
        scores = row["capability_scores"] or {}
        styles = row["styles"] or []
        self.instruction_sources[row["source"] or "?"] += 1
        self.styles_pool.update(styles)
        if row["selected"]:
            self.styles_selected.update(styles)
        for name in CAPABILITY_FIELDS:
            value = _rounded(scores.get(name), 0.5)
            if value is None:
                continue
            self.scores_pool.setdefault(name, Counter())[value] += 1
            if row["selected"]:
                self.scores_selected.setdefault(name, Counter())[value] += 1

    def _on_rejects(self, row: dict) -> None:
        self.rejects[(row["stage"] or "?", row["reason"] or "?")] += 1

    def filter_values(self) -> dict[str, list[str]]:
        """The choices of the page filters."""
        return {
            "source": sorted(set(self.sources) | set(self.instruction_sources)),
            "task": sorted(self.tasks),
            "granularity": sorted(self.segcap_granularity),
        }
