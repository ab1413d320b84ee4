"""The static HTML report of a dataset directory (`segcap report`)."""

from pipelines.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
