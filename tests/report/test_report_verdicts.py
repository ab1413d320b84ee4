"""The report shows `segcap verify`'s verdicts under each caption (checked in Chromium)."""

from __future__ import annotations

from typer.testing import CliRunner

from flows.cli import app
from pipelines.report import build_report

from ..verify.conftest import described_dataset, plant_pink


def test_report_shows_verdicts_and_failed_reasons(tmp_path, open_report, screenshot):
    dataset = described_dataset(tmp_path / "data", seeds=(0,))
    wrong = plant_pink(dataset)
    assert CliRunner().invoke(app, ["verify", str(dataset.path)]).exit_code == 0
    report = build_report(dataset.path, tmp_path / "report.html").path
    page = open_report(report)
    sample = page.locator(f'.sample[data-sample="{wrong}"]')
    sample.scroll_into_view_if_needed()
    summary = sample.locator("p.verdict").first
    assert summary.is_visible() and "1 fail" in summary.inner_text()
    reason = sample.locator("p.verdict.fail", has_text="phrase 1")
    assert reason.is_visible() and "colour: says pink" in reason.inner_text()
    others = page.locator(f'.sample:not([data-sample="{wrong}"]) p.verdict')
    assert others.count() >= 1 and all("0 fail" in t for t in others.all_inner_texts())
    screenshot(sample, "verify-verdicts")
