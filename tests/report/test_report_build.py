"""Report files without a browser: paging, self-containment, missing configs, bad data, the CLI."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from flows.cli import app
from pipelines.report import build_report, write_report
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import table_from_rows
from schemas.options.report import ReportOptions

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def _index(folder) -> list:
    text = (folder / "search-index.js").read_text()
    body = text.removeprefix("window.SEGCAP_INDEX = [\n").removesuffix("];\n").rstrip(",\n")
    return json.loads(f"[{body}]")


def test_report_pages_and_search_index_cover_every_card(full_dataset, tmp_path):
    result = build_report(full_dataset, tmp_path / "r.html", ReportOptions(page_size=3))
    folder = tmp_path / "r_files"
    assert (result.pages, result.cards) == (3, 5)  # 4 images -> 2 pages, 1 text-only -> 1 page
    assert sorted(p.name for p in folder.glob("page-*.html")) == ["page-0002.html", "page-0003.html"]
    entries = _index(folder)
    assert [e[1] for e in entries] == [1, 1, 1, 2, 3]
    assert any("the coffee object" in e[5] for e in entries)
    # a smaller report in the same place removes the stale pages of the bigger one
    build_report(full_dataset, tmp_path / "r.html", ReportOptions(page_size=10))
    assert [p.name for p in folder.glob("page-*.html")] == ["page-0002.html"]


def test_report_is_self_contained(full_dataset, tmp_path):
    path = write_report(full_dataset, tmp_path / "report.html")
    for html in [path, *(tmp_path / "report_files").glob("*.html")]:
        text = html.read_text()
        assert not EXTERNAL.search(text), f"{html.name} loads something from the network"
        assert "<script src=\"report_files/report.js\"" in text or "<script src=\"report.js\"" in text
    assert (tmp_path / "report_files" / "report.js").is_file()


def test_report_shows_selection_rejection_and_descriptions(full_dataset, tmp_path):
    text = write_report(full_dataset, tmp_path / "report.html").read_text()
    assert "selected by mmssr, budget 0.5" in text
    assert "not selected by mmssr" in text
    assert "<td>truncated_image</td><td>broken.png</td>" in text  # the overview's reject table
    text_only = (tmp_path / "report_files" / "page-0002.html").read_text()  # after the image pages
    assert "rejected at score: unparseable_score" in text_only
    assert "a astronaut scene" in text and "the astronaut object" in text


def test_report_minimal_dataset_notes_missing_sections(minimal_dataset, tmp_path):
    text = write_report(minimal_dataset, tmp_path / "m.html").read_text()
    assert "no granularity pairs: run `segcap mine`" in text
    assert "no capability scores" in text and "no stats.json stage timings" in text
    assert text.count('class="card"') == 4


def test_report_bad_mask_is_a_note_not_a_crash(minimal_dataset, tmp_path):
    dataset = DatasetDir(tmp_path / "ds")
    for config in ("images", "segments"):
        (dataset.path / config).mkdir(parents=True)
        for shard in DatasetDir(minimal_dataset).shard_paths(config):
            (dataset.path / config / shard.name).write_bytes(shard.read_bytes())
    row = DatasetDir(minimal_dataset).read("segments").slice(0, 1).to_pylist()[0]
    row.update(segment_id="broken", category="garbled", mask={"size": [5, 5], "counts": "%%%%"})
    writer = dataset.shard_writer("segments", "bad")
    writer.write(table_from_rows("segments", [row]))
    writer.close()
    text = write_report(dataset.path, tmp_path / "b.html").read_text()
    assert "mask of &#x27;garbled&#x27; could not be decoded" in text


def _words(result) -> str:
    """The output with every run of whitespace made one space: rich may wrap a long temp path."""
    return " ".join(result.output.split())


def test_report_cli(full_dataset, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.html"
    ok = runner.invoke(app, ["report", str(full_dataset), "--out", str(out), "--page-size", "2"])
    assert ok.exit_code == 0, ok.output
    assert "5 cards on 3 pages" in ok.output and out.is_file()
    missing = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in _words(missing)
    wrong = runner.invoke(app, ["report", str(full_dataset), "--out", str(tmp_path / "x.txt")])
    assert wrong.exit_code == 2 and "x.txt" in _words(wrong)
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["report", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "nothing to report" in _words(empty)
