"""`llava`: LLaVA-style instruction JSON -> `images` + `instructions`.

Input: records (see `records.py` for the file layout) of the form
{"id": "000001", "image": "coco/train2017/000000033471.jpg",
 "conversations": [{"from": "human", "value": "<image>\\nWhat ...?"}, {"from": "gpt", "value": "..."}]}.
`image` is optional (text-only samples get image_id null). Turns must come from "human"/"gpt"
(also accepted: "user"/"assistant", mapped). Scores start null, styles empty, nothing selected.
`source_id` keeps the record's `id` (or `file.json[index]` when it has none) so a selection can
be joined back to the user's file (`segcap export --format llava` writes it back as `id`).
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.ingest.base import ItemError, ItemResult, ReadContext
from pipelines.ingest.records import grouped_items
from schemas.contract import empty_capability_scores
from schemas.errors import SegcapError
from schemas.ids import stable_id
from schemas.options.ingest import IngestOptions
from schemas.rejects import Reason

PRIMARY = "instructions"
ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt"}


def list_items(options: IngestOptions) -> Iterator[dict]:
    return grouped_items(options, "image", allow_no_image=True, id_key="id")


def _conversations(record: dict) -> list[dict]:
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise ItemError(Reason.BAD_FIELD, "conversations must be a non-empty list")
    clean = []
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("from") not in ROLES or not isinstance(
                turn.get("value"), str):
            raise ItemError(Reason.BAD_FIELD, f"a turn needs from in {sorted(ROLES)} and a string value: {turn!r}")
        clean.append({"from": ROLES[turn["from"]], "value": turn["value"]})
    return clean


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    image_id = ctx.load_image(item["file_name"], result).image_id if item["file_name"] else None
    for ref, record in item["records"]:
        try:
            conversations = _conversations(record)
        except SegcapError as exc:
            result.reject(ref, exc.reason, f"{exc} | {record}")
            continue
        result.add("instructions", {
            "sample_id": stable_id(ctx.source, "llava", record.get("id", ref), image_id),
            "image_id": image_id,
            "conversations": conversations,
            "source": ctx.source,
            "capability_scores": empty_capability_scores(),
            "styles": [],
            "selected": False,
            "selection_method": None,
            "budget": None,
            "duplicate_of": None,
            # the id in the source file, or the record's position there when it has none
            "source_id": str(record["id"]) if record.get("id") is not None else ref,
        })
