"""`write_report`: a dataset directory -> a static HTML report (main file + a folder beside it).

Memory stays bounded: the configs stream once into a SQLite side store, aggregates are counters,
and cards are built and written one page at a time (only one page of images is ever decoded).
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipelines.report import plots
from pipelines.report.cards import Card, CardBuilder
from pipelines.report.pages import PageLinks, card_html, overview, page
from pipelines.report.store import ReportStore
from pipelines.report.summary import Summary
from pipelines.report.videos import VideoCard, VideoCardBuilder, video_card_html
from pipelines.store.dataset_dir import DatasetDir, atomic_write_text
from schemas.contract import CONFIG_NAMES
from schemas.options.report import ReportOptions

ASSETS = ("report.js", "report.css")
MISSING_HINTS = {
    "images": "no images: only text-only instruction cards can be shown",
    "segments": "no mask forest: run `segcap mine` or ingest ground-truth masks",
    "granularity_pairs": "no granularity pairs: run `segcap mine` (the slider is hidden)",
    "descriptions": "no scene/instance descriptions: run `segcap describe`",
    "segcap": "no grounded captions: ingest a SegCap source or run `segcap describe`",
    "instructions": "no instruction samples: ingest instruction data, then `segcap score` and `select`",
    "rejects": "no rejects recorded",
}


@dataclass
class ReportResult:
    path: Path
    pages: int
    cards: int
    seconds: float

    def summary_line(self) -> str:
        return (f"report: {self.cards} cards on {self.pages} pages -> {self.path} "
                f"({self.seconds:.1f}s)")


def default_out_path(dataset_dir: Path) -> Path:
    """Beside the dataset directory, so stages and `publish` never see the report's files."""
    resolved = Path(dataset_dir).resolve()
    return resolved.with_name(f"{resolved.name}-report.html")


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _image_rows(dataset: DatasetDir, batch_size: int) -> Iterator[dict]:
    for batch in dataset.iter_batches("images", batch_size):
        yield from batch.to_pylist()


def _plots(summary: Summary, store: ReportStore, has: set[str], stages: dict) -> list[plots.Plot]:
    has_segments = "segments" in has
    return [
        plots.granularity_histogram(summary.granularity),
        plots.masks_per_image(store.per_image_histogram("COUNT(*)", "segments"), has_segments),
        plots.hierarchy_depth(store.per_image_histogram("MAX(level) + 1", "segments"), has_segments),
        plots.capability_scores(summary.scores_pool, summary.scores_selected),
        plots.style_mix(summary.styles_pool, summary.styles_selected),
        plots.rejects_by_reason(summary.rejects),
        plots.stage_timing(stages),
    ]


def build_report(dataset_dir: str | Path, out_path: str | Path | None = None,
                 options: ReportOptions | None = None) -> ReportResult:
    started = time.monotonic()
    options = options or ReportOptions()
    dataset = DatasetDir(dataset_dir)
    if not dataset.path.is_dir():
        raise FileNotFoundError(f"dataset directory {dataset.path} does not exist")
    present = set(dataset.configs())
    if not present:
        raise ValueError(f"{dataset.path} holds no config of the contract "
                         f"({', '.join(CONFIG_NAMES)}): nothing to report")
    out = Path(out_path) if out_path else default_out_path(dataset.path)
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.with_name(f"{out.stem}_files")
    shutil.rmtree(folder, ignore_errors=True)  # old pages of a previous, larger report
    folder.mkdir()
    for name in ASSETS:
        (folder / name).write_bytes((resources.files("pipelines.report") / "assets" / name).read_bytes())

    with tempfile.TemporaryDirectory(prefix="segcap-report-") as scratch:
        store = ReportStore(Path(scratch) / "store.sqlite")
        try:
            summary = Summary()
            store.load(dataset, summary.observe)
            stages = dataset.stats().get("stages", {})
            title = f"SegCap report: {dataset.path.resolve().name}"
            overview_html = overview(
                dataset.path.resolve().name,
                {c: summary.counts[c] for c in CONFIG_NAMES if c in present},
                {c: MISSING_HINTS[c] for c in CONFIG_NAMES if c not in present},
                stages, _plots(summary, store, present, stages),
                [dict(r) for r in store.rejects_listed(options.max_rejects_listed)],
                summary.counts["rejects"])
            pages, cards = _write_pages(dataset, store, options, out, folder, title,
                                        overview_html, summary.filter_values())
        finally:
            store.close()
    return ReportResult(out, pages, cards, time.monotonic() - started)


def _write_pages(dataset: DatasetDir, store: ReportStore, options: ReportOptions, out: Path,
                 folder: Path, title: str, overview_html: str,
                 filter_values: dict[str, list[str]]) -> tuple[int, int]:
    size = options.page_size
    images = dataset.count("images") if dataset.has("images") else 0
    image_pages = math.ceil((len(store.video_ids()) + images) / size)  # video cards lead
    text_pages = math.ceil(store.orphan_instruction_count() / size)
    pages = max(1, image_pages + text_pages)
    links = PageLinks(out.name, folder.name)
    builder = CardBuilder(store, dataset.path, options)
    card_pages = _card_pages(dataset, store, builder, size)
    total = 0
    with open(folder / "search-index.js", "w", encoding="utf-8") as index:
        index.write("window.SEGCAP_INDEX = [\n")
        number = 0
        for number, cards in enumerate(card_pages, start=1):
            body = "".join(video_card_html(card) if isinstance(card, VideoCard) else card_html(card)
                           for card in cards)
            for card in cards:
                index.write(json.dumps(card.search_entry(number)) + ",\n")
            total += len(cards)
            _write_page(number, pages, links, out, folder, title, overview_html, body, filter_values)
        if number == 0:  # no cards at all: the overview alone
            _write_page(1, pages, links, out, folder, title, overview_html,
                        '<p class="note">no images and no instruction samples to show</p>', filter_values)
        index.write("];\n")
    return pages, total


def _card_pages(dataset: DatasetDir, store: ReportStore, builder: CardBuilder,
                size: int) -> Iterator[list[Card | VideoCard]]:
    # videos first: a video card sums up many frame cards (its descriptions, its tracks)
    videos = VideoCardBuilder(store, dataset, builder.options.max_image_pixels)
    items = itertools.chain((("video", v) for v in store.video_ids()),
                            (("image", row) for row in _image_rows(dataset, size)))
    for chunk in _chunks(items, size):
        yield [videos.card(item) if kind == "video" else builder.image_card(item) for kind, item in chunk]
    for rows in store.orphan_instructions(size):
        yield [builder.text_card(row) for row in rows]


def _write_page(number: int, pages: int, links: PageLinks, out: Path, folder: Path, title: str,
                overview_html: str, body: str, filter_values: dict[str, list[str]]) -> None:
    content = f"{overview_html if number == 1 else ''}<section id=\"cards\">{body}</section>"
    html = page(title, content, number, pages, links, filter_values)
    atomic_write_text(out if number == 1 else folder / f"page-{number:04d}.html", html)


def write_report(dataset_dir: str | Path, out_path: str | Path | None = None,
                 options: ReportOptions | None = None) -> Path:
    """Write the HTML report of `dataset_dir`; returns the main HTML file's path."""
    return build_report(dataset_dir, out_path, options).path
