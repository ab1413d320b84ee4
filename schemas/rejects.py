"""Quarantine records: what a stage refused, why, and an excerpt of the input."""

from __future__ import annotations

RAW_EXCERPT_CHARS = 2000


def reject_row(stage: str, input_ref: str, reason: str, raw: object = "") -> dict:
    text = raw if isinstance(raw, str) else repr(raw)
    if len(text) > RAW_EXCERPT_CHARS:
        text = text[:RAW_EXCERPT_CHARS] + f"... [{len(text) - RAW_EXCERPT_CHARS} more chars]"
    return {"stage": stage, "input_ref": str(input_ref), "reason": reason, "raw": text}
