"""The checkable pieces of a SegCap sample: each grounded phrase, its location clause, its mask."""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.grounding import SEG, parse_grounded
from schemas.rows import answer_text

# The clause after a phrase's [SEG] ("at the left") runs to the next phrase or sentence end.
_CLAUSE_END = re.compile(r"<p>|[.;,]|\band\b")


@dataclass
class GroundedPhrase:
    index: int
    text: str
    context: str  # the phrase plus its location clause
    segment_id: str | None


def grounded_phrases(sample: dict) -> list[GroundedPhrase]:
    answer = answer_text(sample.get("conversations"))
    parsed = parse_grounded(answer)
    segment_ids = list(sample.get("segment_ids") or [])
    phrases = []
    for k, (phrase, (_, end)) in enumerate(zip(parsed.phrases, parsed.spans, strict=True)):
        after = answer[end:]
        seg = after.find(SEG)
        tail = after[seg + len(SEG):] if seg >= 0 else ""
        stop = _CLAUSE_END.search(tail)
        clause = tail[: stop.start()] if stop else tail
        phrases.append(GroundedPhrase(k, phrase.strip(), f"{phrase.strip()} {clause.strip()}".strip(),
                                      segment_ids[k] if k < len(segment_ids) else None))
    return phrases
