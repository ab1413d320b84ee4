"""Reject reasons are one closed enum, each with a meaning, listed in the README; bad-input
errors share one base that carries the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotators.images import ImageError
from annotators.masks.gt import HierarchyError
from annotators.scoring.samples import SampleError
from pipelines.exports.common import ExportReport
from pipelines.ingest.base import ItemError
from schemas.errors import SegcapError
from schemas.masks import MaskError
from schemas.rejects import MEANINGS, Reason, reject_row

README = Path(__file__).resolve().parents[2] / "README.md"


def reasons_table() -> str:
    rows = [f"| `{reason}` | {MEANINGS[reason]} |" for reason in Reason]
    return "\n".join(["| reason | meaning |", "| --- | --- |", *rows])


def test_every_reason_has_a_one_line_meaning():
    assert set(MEANINGS) == set(Reason)
    assert all(text.strip() and "\n" not in text for text in MEANINGS.values())


def test_the_readme_lists_exactly_the_reasons_and_their_meanings():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- reasons:start -->\n(.*?)\n<!-- reasons:end -->", text, re.S)
    assert found, "README.md lost its <!-- reasons:start/end --> block"
    assert found.group(1) == reasons_table(), (
        "README.md's reject reasons differ from schemas/rejects.py; paste this between the "
        "markers:\n" + reasons_table())


def test_reject_row_stores_the_plain_string_and_refuses_unknown_reasons():
    row = reject_row("ingest", "a.jpg", Reason.MISSING_IMAGE, b"raw")
    assert row["reason"] == "missing_image" and type(row["reason"]) is str
    assert reject_row("ingest", "a.jpg", "missing_image")["reason"] == "missing_image"
    with pytest.raises(ValueError, match="missing_imag"):
        reject_row("ingest", "a.jpg", "missing_imag")  # a typo is an error, not a new reason


def test_export_rejects_refuse_unknown_reasons_too():
    report = ExportReport("parquet")
    report.reject("x", Reason.UNSAFE_NAME, "..")
    assert report.rejected() == {"unsafe_name": 1}
    with pytest.raises(ValueError):
        report.reject("x", "unsafe-name")


@pytest.mark.parametrize("error", [ImageError, MaskError, ItemError, HierarchyError, SampleError])
def test_bad_input_errors_share_one_base_carrying_the_reason(error):
    exc = error(Reason.EMPTY_MASK, "nothing there")
    assert isinstance(exc, SegcapError) and isinstance(exc, ValueError)
    assert exc.reason is Reason.EMPTY_MASK and exc.message == "nothing there"
    assert str(exc) == "empty_mask: nothing there"
    assert "__init__" not in vars(error)  # the base's constructor, not a copy of it
    with pytest.raises(ValueError):
        error("no_such_reason", "a typo at the raise site fails there")
