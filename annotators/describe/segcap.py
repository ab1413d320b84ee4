"""SegCap rows: the question, the grounded answer, masks in [SEG] order, and the checks on them."""

from __future__ import annotations

from schemas import rows
from schemas.grounding import GroundedText, alignment_problems, mglmm_numbered, panoptic_sentence
from schemas.ids import described_sample_id


def segcap_row(*, image_id: str, task: str, granularity: str, subtree: str | None, question: str,
               answer: str, masks: list[dict], labels: list[str], spans: list[list[int]],
               segment_ids: list[str], source: str, provenance: dict) -> dict:
    """A described sample: keyed by what was asked about which masks (`described_sample_id`)."""
    return rows.segcap_row(
        sample_id=described_sample_id(image_id, task, granularity, subtree, question, segment_ids),
        image_id=image_id, task=task, granularity=granularity, subtree=subtree,
        question=question, answer=answer, masks=masks, labels=labels, spans=spans,
        segment_ids=segment_ids, source=source, provenance=provenance,
    )


def row_problems(row: dict) -> list[str]:
    """Why a row's markers, phrases, spans, masks, labels and segment ids do not line up."""
    answer = rows.answer_text(row["conversations"])
    problems = alignment_problems(answer, len(row["masks"]), len(row["mask_labels"]), row["phrase_spans"])
    if len(row["segment_ids"]) != len(row["masks"]):
        problems.append(f"{len(row['segment_ids'])} segment ids but {len(row['masks'])} masks")
    if not row["masks"]:
        problems.append("no masks")
    return problems


def numbered_labels(labels: list[str]) -> list[str]:
    """COCO-panoptic style names: a label used more than once becomes label-1, label-2, ..."""
    totals = {label: labels.count(label) for label in labels}
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        if totals[label] == 1:
            out.append(label)
        else:
            seen[label] = seen.get(label, 0) + 1
            out.append(f"{label}-{seen[label]}")
    return out


def panoptic_answer(labels: list[str]) -> GroundedText:
    """The panoptic sentence over labels grouped by class: runs numbered as MGLMM does."""
    return panoptic_sentence(mglmm_numbered(labels))


def referring_answer(expression: str) -> GroundedText:
    return GroundedText().add("Sure, it is ").add_phrase(expression).add(".")


def region_answer(short: str, detailed: str) -> GroundedText:
    return GroundedText().add_phrase(short).add(". " + detailed)


def definite(phrase: str) -> str:
    """"a red car" -> "the red car" (referring expressions name one object)."""
    for lead in ("a ", "an ", "the "):
        if phrase.lower().startswith(lead):
            return "the " + phrase[len(lead):]
    return "the " + phrase
