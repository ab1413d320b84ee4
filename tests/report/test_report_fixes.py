"""The first-hour report fixes, each in headless Chromium (plots: measured in matplotlib).

search links work on the first click; a linked card is not under the sticky header; the
granularity slider only grows the mask; one hierarchy level at a time; larger images; MOT video
and track descriptions with the track's boxes over frames; "masks per image" labels apart.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotators.images import image_row
from pipelines.report import build_report
from pipelines.report.plots import bars_figure
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import table_from_rows
from schemas.ids import stable_id
from schemas.masks import describe, encode_array
from schemas.options.report import ReportOptions
from schemas.provenance import make_provenance

TRACK_BOX = (8, 6, 20, 24)  # x, y, w, h in frame pixels


def _write(dataset: DatasetDir, config: str, rows: list[dict], prefix: str = "extra") -> None:
    writer = dataset.shard_writer(config, prefix)
    writer.write(table_from_rows(config, rows))
    writer.close()


@pytest.fixture(scope="module")
def two_definitions(full_dataset, tmp_path_factory) -> Path:
    """The full dataset plus graco pairs at the same points, whose granularities interleave
    with unsamv2's (0.3 -> middle, 0.5 -> whole): one mixed slider would shrink at 0.5 -> 0.6."""
    root = tmp_path_factory.mktemp("two-defs") / "ds"
    shutil.copytree(full_dataset, root)
    dataset = DatasetDir(root)
    pairs = dataset.read("granularity_pairs").to_pylist()
    extra = []
    for row in pairs:
        for level, granularity in ((1, 0.3), (0, 0.5)):
            if row["level"] == level:
                extra.append({**row, "pair_id": row["pair_id"] + "g", "granularity": granularity,
                              "granularity_def": "graco"})
    _write(dataset, "granularity_pairs", extra)
    return root


@pytest.fixture(scope="module")
def video_dataset(tmp_path_factory) -> Path:
    """One MOT video: 5 frames, one track boxed in every frame, scene + track descriptions."""
    root = tmp_path_factory.mktemp("video") / "ds"
    dataset = DatasetDir(root)
    dataset.mark_incomplete()
    provenance = make_provenance(annotator="test", backend="template", model="none",
                                 prompt_id="p", prompt="p", params={})
    images, segments = [], []
    for frame in range(5):
        pixels = np.full((48, 64, 3), 40 + 30 * frame, dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        row = image_row(buffer.getvalue(), f"{frame:06d}.png", "mot", video_id="walk-01",
                        frame_index=frame)
        images.append(row)
        mask = np.zeros((48, 64), dtype=np.uint8)
        x, y, w, h = TRACK_BOX
        mask[y:y + h, x + frame:x + frame + w] = 1
        segments.append({"segment_id": stable_id(row["image_id"], "t7"), "image_id": row["image_id"],
                         "parent_id": None, "level": 0, **describe(encode_array(mask)),
                         "category": "pedestrian", "mask_source": "gt", "score": None, "track_id": 7})
    descriptions = [
        {"description_id": "d-scene", "image_id": None, "video_id": "walk-01", "scope": "scene",
         "target_id": None, "short": "a street filmed from a still camera",
         "detailed": "a grey street", "attributes": [], "provenance": provenance},
        {"description_id": "d-track", "image_id": None, "video_id": "walk-01", "scope": "track",
         "target_id": "7", "short": "a pedestrian walking to the right",
         "detailed": "moves steadily right", "attributes": [], "provenance": provenance}]
    _write(dataset, "images", images, "test")
    _write(dataset, "segments", segments, "test")
    _write(dataset, "descriptions", descriptions, "test")
    dataset.finalize()
    return root


@pytest.fixture(scope="module")
def paged(full_dataset, tmp_path_factory) -> Path:
    return build_report(full_dataset, tmp_path_factory.mktemp("fix-paged") / "r.html",
                        ReportOptions(page_size=2)).path


def _canvas_fraction_changed(page, card_id: str) -> float:
    """Share of canvas pixels that differ from the bare image (how much mask is shown)."""
    return page.evaluate("""async (id) => {
      const card = document.getElementById(id), canvas = card.querySelector('canvas');
      const data = JSON.parse(card.querySelector('script.card-data').textContent);
      const img = new Image(); img.src = data.image; await img.decode();
      const off = document.createElement('canvas'); off.width = canvas.width; off.height = canvas.height;
      const octx = off.getContext('2d'); octx.drawImage(img, 0, 0, canvas.width, canvas.height);
      const a = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const b = octx.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < a.length; i += 4) {
        if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30) n++;
      }
      return n / (a.length / 4);
    }""", card_id)


def test_search_match_link_works_on_the_first_click(open_report, paged):
    page = open_report(paged)
    page.locator("input[data-filter='q']").type("rocket")  # focus stays in the search box
    link = page.locator("#matches a.match", has_text="rocket")
    assert "page 2" in link.inner_text()
    link.click()  # the box's change event (blur) fires during this very click
    page.wait_for_selector("body[data-page='2'][data-ready='1']", timeout=5_000)


def test_a_linked_card_is_not_under_the_sticky_header(open_report, paged, screenshot):
    page = open_report(paged)
    page.set_viewport_size({"width": 1280, "height": 420})  # short: the page can scroll the card up
    second = page.locator("article.card").nth(1).get_attribute("id")
    page.goto(f"{paged.resolve().as_uri()}#{second}")
    page.wait_for_selector("body[data-ready='1']")
    at_bottom = page.evaluate("window.scrollY + innerHeight >= document.documentElement.scrollHeight - 2")
    header = page.locator("header").bounding_box()
    card = page.locator(f"#{second}").bounding_box()
    assert card["y"] >= header["y"] + header["height"] - 1, (card, header)
    assert at_bottom or card["y"] < header["y"] + header["height"] + 40  # at the top, not lost below
    screenshot(page, "anchor-below-header")


def test_slider_steps_only_grow_the_mask(open_report, two_definitions, tmp_path, screenshot):
    page = open_report(build_report(two_definitions, tmp_path / "two.html").path)
    card_id = page.locator("article.card").first.get_attribute("id")
    card = page.locator(f"#{card_id}")
    buttons = card.locator(".point-btn")
    assert buttons.count() == 2  # one slider per definition, not one mixed slider
    assert {"graco", "unsamv2"} <= {w for b in buttons.all_inner_texts() for w in b.split()}
    for index in range(buttons.count()):
        buttons.nth(index).click()
        steps = int(card.locator(".gran-slider").get_attribute("max")) + 1
        card.locator(".gran-slider").focus()
        shown, values = [], []
        for step in range(steps):
            shown.append(_canvas_fraction_changed(page, card_id))
            values.append(float(card.get_attribute("data-granularity")))
            if step < steps - 1:
                page.keyboard.press("ArrowRight")
        assert values == sorted(values)
        assert all(b >= a - 0.005 for a, b in zip(shown, shown[1:], strict=False)), (values, shown)
    screenshot(card, "slider-per-definition")


def test_one_hierarchy_level_at_a_time_and_larger_images(open_report, paged, screenshot):
    page = open_report(paged)
    card_id = page.locator("article.card").first.get_attribute("id")
    card = page.locator(f"#{card_id}")
    assert card.locator("canvas").bounding_box()["width"] >= 400  # not a 130 px stamp
    everything = _canvas_fraction_changed(page, card_id)
    card.locator(".level-btn", has_text="level 2").click()
    assert card.get_attribute("data-level") == "2"
    part_only = _canvas_fraction_changed(page, card_id)
    assert 0 < part_only < everything / 2  # the part box is 5% of the image, the object 42%
    card.locator(".level-btn", has_text="whole objects").click()
    whole_only = _canvas_fraction_changed(page, card_id)
    assert part_only < whole_only <= everything + 0.01
    screenshot(card, "level-whole-objects")
    card.locator(".level-btn", has_text="all levels").click()
    assert card.get_attribute("data-level") == ""


def test_video_and_track_descriptions_with_boxes_over_frames(open_report, video_dataset, tmp_path,
                                                             screenshot):
    page = open_report(build_report(video_dataset, tmp_path / "video.html").path)
    video = page.locator("article.card.video")
    assert video.count() == 1
    text = video.inner_text()
    assert "a street filmed from a still camera" in text
    assert "track 7" in text and "pedestrian" in text and "a pedestrian walking to the right" in text
    frames = video.locator(".track[data-track='7'] .track-frames img")
    assert frames.count() == 4  # spread over the track's 5 frames
    # the box is drawn in the track's colour on the frame: sample the box's left edge
    colour, plain = page.evaluate("""async () => {
      const img = document.querySelector('.track-frames img'); await img.decode();
      const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
      const s = img.naturalWidth / 64;
      const at = (x, y) => Array.from(ctx.getImageData(Math.round(x * s), Math.round(y * s), 1, 1).data.slice(0, 3));
      return [at(8.3, 18), at(40, 40)];
    }""")
    assert max(abs(a - b) for a, b in zip(colour, plain, strict=True)) > 60, (colour, plain)
    screenshot(video, "video-card")


def test_masks_per_image_axis_labels_do_not_overlap():
    counts = {n: (n * 7) % 5 + 1 for n in range(0, 120)}  # 120 distinct mask counts
    figure = bars_figure("Masks per image", counts, "segments in the image")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    for axis in (figure.axes[0].xaxis, figure.axes[0].yaxis):
        boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                 if t.get_visible() and t.get_text()]
        assert len(boxes) >= 3
        for a, b in zip(boxes, boxes[1:], strict=False):
            assert not a.overlaps(b), [t.get_text() for t in axis.get_ticklabels()]
