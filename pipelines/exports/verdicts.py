"""Leaving out what `segcap verify` failed: one rule for export, the MGLMM export and the readers.

A row is failed when any entry of its `verification` list has verdict "fail" (a sample with one
wrong phrase teaches the wrong grounding for that mask). Unverified rows and `unsure` verdicts
are kept: dropping them would punish what could not be checked.
"""

from __future__ import annotations

import pyarrow as pa


def row_failed(row: dict) -> bool:
    return any(entry.get("verdict") == "fail" for entry in row.get("verification") or [])


def drop_failed(table: pa.Table) -> tuple[pa.Table, int]:
    """The table without its failed rows, and how many were dropped."""
    if "verification" not in table.column_names:
        return table, 0
    keep = [not row_failed({"verification": v}) for v in table.column("verification").to_pylist()]
    kept = table.filter(pa.array(keep, type=pa.bool_()))
    return kept, table.num_rows - kept.num_rows
