"""The report in a real headless Chromium, opened from disk: overlays, phrases, slider, paging."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from pipelines.report import build_report
from schemas.options.report import ReportOptions

# Relative positions inside the test masks (see conftest.build_dataset): the part is the box
# (top .15-.35, left .15-.4), the upper half (.15-.5, .15-.75), the object (.15-.85, .15-.75).
IN_PART = (0.3, 0.2)
IN_MIDDLE_ONLY = (0.6, 0.4)
IN_OBJECT_ONLY = (0.45, 0.7)
OUTSIDE = (0.93, 0.93)

PIXELS_JS = """
async ([id, bare]) => {
  const card = document.getElementById(id);
  const canvas = card.querySelector('canvas');
  let ctx = canvas.getContext('2d');
  if (bare) {
    const data = JSON.parse(card.querySelector('script.card-data').textContent);
    const img = new Image(); img.src = data.image; await img.decode();
    const off = document.createElement('canvas'); off.width = canvas.width; off.height = canvas.height;
    ctx = off.getContext('2d'); ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  }
  return {w: canvas.width, h: canvas.height,
          rgba: Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data)};
}
"""


class Pixels:
    def __init__(self, page, card_id: str, bare: bool = False):
        raw = page.evaluate(PIXELS_JS, [card_id, bare])
        self.w, self.h, self.rgba = raw["w"], raw["h"], raw["rgba"]

    def at(self, rel: tuple[float, float]) -> tuple[int, int, int]:
        x, y = int(rel[0] * self.w), int(rel[1] * self.h)
        i = 4 * (y * self.w + x)
        return tuple(self.rgba[i:i + 3])

    def changed_fraction(self, other: Pixels, threshold: int = 30) -> float:
        changed = sum(1 for i in range(0, len(self.rgba), 4)
                      if sum(abs(self.rgba[i + c] - other.rgba[i + c]) for c in range(3)) > threshold)
        return changed / (len(self.rgba) // 4)


def _distance(a, b) -> float:
    return math.dist(a, b)


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(scope="module")
def paged_report(full_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-paged") / "report.html"
    return build_report(full_dataset, out, ReportOptions(page_size=2)).path


def _first_card(page) -> str:
    return page.locator("article.card").first.get_attribute("id")


def test_report_overlay_is_drawn_over_the_image(open_report, paged_report, screenshot):
    page = open_report(paged_report)
    card = _first_card(page)
    shown, bare = Pixels(page, card), Pixels(page, card, bare=True)
    # the object mask covers 42% of the image; every mask pixel is tinted, nothing else is
    assert shown.changed_fraction(bare) > 0.3
    assert _distance(shown.at(OUTSIDE), bare.at(OUTSIDE)) < 10
    assert _distance(shown.at(IN_OBJECT_ONLY), bare.at(IN_OBJECT_ONLY)) > 30
    assert page.locator("#overview img").count() >= 6  # the dataset-level plots are embedded
    screenshot(page, "overview-and-first-page")


def test_report_clicking_a_phrase_highlights_its_mask(open_report, paged_report, screenshot):
    page = open_report(paged_report)
    card_id = _first_card(page)
    card = page.locator(f"#{card_id}")
    phrase = card.locator(".phrase", has_text="top left part")
    layer = phrase.get_attribute("data-layer")
    colour = _hex(re.search(r"--c:(#[0-9a-f]{6})", phrase.get_attribute("style")).group(1))
    before, bare = Pixels(page, card_id), Pixels(page, card_id, bare=True)
    phrase.click()
    page.mouse.move(0, 0)  # leave the phrase: the click keeps the highlight, hover does not
    assert card.get_attribute("data-highlight") == layer
    assert "active" in phrase.get_attribute("class")
    after = Pixels(page, card_id)
    # the phrase's mask turns towards its colour; the other masks fade towards the bare image
    assert _distance(after.at(IN_PART), colour) < _distance(before.at(IN_PART), colour) - 20
    assert (_distance(after.at(IN_OBJECT_ONLY), bare.at(IN_OBJECT_ONLY))
            < _distance(before.at(IN_OBJECT_ONLY), bare.at(IN_OBJECT_ONLY)) - 20)
    screenshot(card, "phrase-highlight-card")
    phrase.click()  # a second click releases it
    page.mouse.move(0, 0)
    assert card.get_attribute("data-highlight") == ""
    card.locator(f".legend [data-layer='{layer}'] .swatch").click()  # the legend does the same
    page.mouse.move(0, 0)
    assert card.get_attribute("data-highlight") == layer


def test_report_granularity_slider_changes_the_mask(open_report, paged_report, screenshot):
    page = open_report(paged_report)
    card_id = _first_card(page)
    card = page.locator(f"#{card_id}")
    point = page.evaluate(
        "id => JSON.parse(document.getElementById(id).querySelector('script.card-data').textContent).points[0]",
        card_id)
    canvas = card.locator("canvas")
    # the canvas is shown scaled (CSS width), so the point's canvas pixels scale to the screen
    scale = canvas.bounding_box()["width"] / int(canvas.get_attribute("width"))
    canvas.click(position={"x": point["x"] * scale, "y": point["y"] * scale})
    assert card.get_attribute("data-point") == "0"
    assert card.get_attribute("data-granularity") == "0.2"
    finest = Pixels(page, card_id)
    slider = card.locator(".gran-slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert card.get_attribute("data-granularity") == "0.6"
    middle = Pixels(page, card_id)
    assert _distance(middle.at(IN_MIDDLE_ONLY), finest.at(IN_MIDDLE_ONLY)) > 30
    assert _distance(middle.at(IN_OBJECT_ONLY), finest.at(IN_OBJECT_ONLY)) < 10
    page.keyboard.press("End")
    assert card.get_attribute("data-granularity") == "1"
    whole = Pixels(page, card_id)
    assert _distance(whole.at(IN_OBJECT_ONLY), middle.at(IN_OBJECT_ONLY)) > 30
    assert "1 (level 0" in card.locator(".gran-value").inner_text()
    screenshot(page, "granularity-whole")


def test_report_pages_forward_and_back(open_report, paged_report, screenshot):
    page = open_report(paged_report)
    assert page.locator("body").get_attribute("data-pages") == "3"
    seen = [page.locator("article.card").count()]
    for number in (2, 3):
        page.locator("header a.next").click()
        page.wait_for_selector(f"body[data-page='{number}'][data-ready='1']")
        assert page.url.endswith(f"page-{number:04d}.html")
        seen.append(page.locator("article.card").count())
    assert seen == [2, 2, 1]  # 4 images, 2 per page, then the text-only instruction sample
    assert "text-only-1" in page.locator("article.card").inner_text()
    assert page.locator("header a.next").count() == 0  # the last page has no next link
    screenshot(page, "last-page")
    page.locator("header a.prev").click()
    page.wait_for_selector("body[data-page='2'][data-ready='1']")
    assert Pixels(page, _first_card(page)).changed_fraction(
        Pixels(page, _first_card(page), bare=True)) > 0.3


def test_report_filters_and_search_reach_other_pages(open_report, paged_report, screenshot):
    page = open_report(paged_report)
    page.select_option("select[data-filter='task']", "mgsc")
    visible = page.locator("article.card:visible")
    assert visible.count() == 1 and "coffee" in visible.inner_text()
    link = page.locator("#matches a.match", has_text="rocket")
    assert "page 2" in link.inner_text()
    link.click()
    page.wait_for_selector("body[data-page='2'][data-ready='1']")
    assert page.locator("article.card:visible").count() == 1  # the filter follows to the page
    assert "rocket" in page.locator("article.card:visible").inner_text()
    page.select_option("select[data-filter='task']", "")
    page.fill("input[data-filter='q']", "astronaut object")
    assert page.locator("article.card:visible").count() == 0
    assert page.locator("#matches a.match", has_text="astronaut").count() == 1
    screenshot(page, "search")


def test_report_minimal_dataset_renders_with_notes(open_report, minimal_dataset, tmp_path, screenshot):
    path = build_report(minimal_dataset, tmp_path / "minimal.html").path
    page = open_report(path)
    overview = page.locator("#overview").inner_text()
    for config in ("granularity_pairs", "segcap", "instructions", "descriptions"):
        assert f"{config} missing" in overview
    assert "run `segcap mine`" in overview
    card_id = _first_card(page)
    assert Pixels(page, card_id).changed_fraction(Pixels(page, card_id, bare=True)) > 0.3
    assert page.locator(".gran-slider").count() == 0
    screenshot(page, "minimal-dataset")
