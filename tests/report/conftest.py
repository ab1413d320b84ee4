"""Report test fixtures: a small real dataset directory built with the foundation, and Chromium."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from annotators.images import image_row
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import CAPABILITY_FIELDS, empty_capability_scores, table_from_rows
from schemas.grounding import GroundedText
from schemas.ids import stable_id
from schemas.masks import describe, encode_array
from schemas.provenance import make_provenance
from schemas.rejects import Reason, reject_row

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
PHOTOS = (("astronaut", "lab"), ("coffee", "kitchen"), ("chelsea", "lab"), ("rocket", "kitchen"))


def _photo(name: str) -> bytes:
    pixels = getattr(skdata, name)()
    image = Image.fromarray(pixels).convert("RGB")
    image.thumbnail((200, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _box(height: int, width: int, top: float, left: float, bottom: float, right: float) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[int(top * height):int(bottom * height), int(left * width):int(right * width)] = 1
    return mask


def _segment(image_id: str, name: str, mask: np.ndarray, level: int, parent: str | None) -> dict:
    rle = encode_array(mask)
    return {"segment_id": stable_id(image_id, name), "image_id": image_id, "parent_id": parent,
            "level": level, **describe(rle), "category": name, "mask_source": "gt", "score": None,
            "track_id": None}


def _pair(image_id: str, root: dict, segment: dict, point: list[float], granularity: float) -> dict:
    return {"pair_id": stable_id(image_id, segment["segment_id"], granularity),
            "image_id": image_id, "instance_id": root["segment_id"],
            "segment_id": segment["segment_id"], "point": point, "mask": segment["mask"],
            "granularity": granularity, "granularity_def": "unsamv2", "level": segment["level"],
            "is_part": segment["level"] > 0, "area": segment["area"], "mask_source": "gt"}


def _write(dataset: DatasetDir, config: str, rows: list[dict]) -> None:
    writer = dataset.shard_writer(config, "test")
    writer.write(table_from_rows(config, rows))
    writer.close()


def build_dataset(root: Path, *, full: bool = True, photos=PHOTOS) -> Path:
    """A finalized dataset directory: every config when `full`, else images + segments only."""
    dataset = DatasetDir(root)
    dataset.mark_incomplete()
    rows = {name: [] for name in ("images", "segments", "granularity_pairs", "descriptions",
                                  "segcap", "instructions", "rejects")}
    provenance = make_provenance(annotator="test", backend="template", model="none",
                                 prompt_id="p", prompt="p", params={})
    for index, (photo, source) in enumerate(photos):
        image = image_row(_photo(photo), f"{photo}.png", source)
        rows["images"].append(image)
        image_id, height, width = image["image_id"], image["height"], image["width"]
        whole = _segment(image_id, "object", _box(height, width, .15, .15, .85, .75), 0, None)
        middle = _segment(image_id, "upper half", _box(height, width, .15, .15, .5, .75), 1,
                          whole["segment_id"])
        part = _segment(image_id, "top left part", _box(height, width, .15, .15, .35, .4), 2,
                        middle["segment_id"])
        rows["segments"] += [whole, middle, part]
        point = [width * .25, height * .25]
        rows["granularity_pairs"] += [_pair(image_id, whole, part, point, 0.2),
                                      _pair(image_id, whole, middle, point, 0.6),
                                      _pair(image_id, whole, whole, point, 1.0)]
        rows["descriptions"] += [
            {"description_id": stable_id(image_id, "scene"), "image_id": image_id, "video_id": None,
             "scope": "scene", "target_id": None, "short": f"a {photo} scene",
             "detailed": f"a detailed view of the {photo}", "attributes": [], "provenance": provenance},
            {"description_id": stable_id(image_id, "object"), "image_id": image_id, "video_id": None,
             "scope": "instance", "target_id": whole["segment_id"], "short": f"the {photo} object",
             "detailed": "it is large", "attributes": [{"name": "colour", "value": "mixed"}],
             "provenance": provenance}]
        answer = (GroundedText().add(f"A {photo} photo showing ").add_phrase(f"the {photo} object")
                  .add(" whose ").add_phrase("top left part").add(" stands out."))
        rows["segcap"].append({
            "sample_id": stable_id(image_id, "gcg"), "image_id": image_id,
            "task": "gcg" if index % 2 == 0 else "mgsc",
            "granularity": "root" if index % 2 == 0 else "subtree",
            "subtree": None if index % 2 == 0 else "object",
            "conversations": [{"from": "human", "value": "<image>\nDescribe the image."},
                              {"from": "gpt", "value": answer.text}],
            "masks": [whole["mask"], part["mask"]], "mask_labels": ["object", "part"],
            "phrase_spans": answer.spans, "segment_ids": [whole["segment_id"], part["segment_id"]],
            "source": source, "provenance": provenance})
        scores = empty_capability_scores()
        for k, name in enumerate(CAPABILITY_FIELDS[:6]):
            scores[name] = float((k + index) % 6)
        rows["instructions"].append({
            "sample_id": stable_id(image_id, "ins"), "image_id": image_id,
            "conversations": [{"from": "human", "value": "<image>\nWhat is shown?"},
                              {"from": "gpt", "value": f"A {photo}."}],
            "source": source, "capability_scores": scores,
            "styles": ["short description"] if index % 2 else ["yes/no", "chain-of-thought"],
            "selected": index % 2 == 0, "selection_method": "mmssr", "budget": 0.5,
            "duplicate_of": None})
    rows["instructions"].append({
        "sample_id": "text-only-1", "image_id": None,
        "conversations": [{"from": "human", "value": "What is 2 + 2?"}, {"from": "gpt", "value": "4"}],
        "source": "mathqa", "capability_scores": empty_capability_scores(), "styles": ["word/short-phrase"],
        "selected": False, "selection_method": "mmssr", "budget": 0.5, "duplicate_of": None})
    rows["rejects"] += [reject_row("ingest", "broken.png", Reason.TRUNCATED_IMAGE, b"\x89PNG"),
                        # a reason no longer in the enum, as an older dataset may hold: the
                        # report shows whatever is stored (reject_row would refuse it)
                        {"stage": "score", "input_ref": "text-only-1", "reason": "unparseable_score",
                         "raw": "score: ???"}]
    configs = rows if full else {"images": rows["images"], "segments": rows["segments"]}
    for config, config_rows in configs.items():
        _write(dataset, config, config_rows)
    if full:
        dataset.record_stage("ingest", {"rows_in": 5, "rows_out": 4, "rejected": {"truncated_image": 1},
                                        "seconds": 0.4})
        dataset.record_stage("mine", {"rows_in": 4, "rows_out": 12, "rejected": {}, "seconds": 1.3})
    dataset.finalize()
    return root


@pytest.fixture(scope="session")
def full_dataset(tmp_path_factory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("report-full") / "ds")


@pytest.fixture(scope="session")
def minimal_dataset(tmp_path_factory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("report-min") / "ds", full=False)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright; skipped where it is missing, except in CI."""
    binary = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if binary is None:
        message = f"the Chromium binary ({CHROMIUM}, `apt-get install chromium`) is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_report(browser):
    """Open a report file from disk; any page error or console error fails the test."""
    pages = []

    def _open(path: Path):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" else None)
        page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=15_000)
        pages.append((context, errors))
        page.errors = errors
        return page

    yield _open
    for context, errors in pages:
        context.close()
        assert not errors, f"the report page reported errors: {errors}"


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/report/ (kept by CI as an artifact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def _save(target, name: str) -> Path:
        """`target`: a Playwright page (saved whole) or a locator (that element only)."""
        path = ARTIFACTS / f"{name}.png"
        if hasattr(target, "goto"):
            target.screenshot(path=str(path), full_page=True)
        else:
            target.screenshot(path=str(path))
        return path

    return _save
