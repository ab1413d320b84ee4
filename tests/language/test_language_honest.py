"""Captions say only what is true of the image: one mask source per image, "a region" for what
has no class, counts from instances, crowds never one instance, clean class names, no two
grounded phrases of one caption that read the same."""

from __future__ import annotations

import re

import numpy as np
import pytest

from annotators.backends import make_backend
from annotators.describe.describer import ImageDescriber, ImageItem
from annotators.describe.segcap import row_problems
from schemas.grounding import parse_grounded
from schemas.masks import area, bbox, encode_array

H, W = 60, 90
COLOURS = {"red": (210, 35, 35), "blue": (30, 70, 210), "green": (50, 160, 50),
           "yellow": (240, 220, 40)}


def canvas(*boxes) -> np.ndarray:
    pixels = np.full((H, W, 3), 135, dtype=np.uint8)  # grey background
    for (x0, y0, x1, y1), colour in boxes:
        pixels[y0:y1, x0:x1] = COLOURS[colour]
    return pixels


def segment(segment_id: str, box, *, category=None, source="gt", level=0, parent=None,
            crowd=None) -> dict:
    mask = np.zeros((H, W), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 1
    rle = encode_array(mask)
    return {"segment_id": segment_id, "image_id": "img", "parent_id": parent, "level": level,
            "mask": rle, "bbox": bbox(rle), "area": area(rle), "category": category,
            "mask_source": source, "track_id": None, "is_crowd": crowd}


def describe(pixels, segments, **options):
    describer = ImageDescriber(make_backend("template"), **options)
    result = describer.describe([ImageItem("img", pixels, segments, "test")])
    for row in result.segcap:
        assert row_problems(row) == []
    return result


def texts(result) -> list[str]:
    return ([d["short"] for d in result.descriptions] + [d["detailed"] for d in result.descriptions]
            + [r["conversations"][1]["value"] for r in result.segcap])


def scene_sentence(result) -> str:
    return next(d["detailed"] for d in result.descriptions if d["scope"] == "scene")


HOUSE, ROBOT_A, ROBOT_B = (5, 30, 40, 58), (50, 5, 65, 30), (70, 5, 85, 30)
PIXELS = canvas((HOUSE, "green"), (ROBOT_A, "blue"), (ROBOT_B, "red"))
GT = [segment("house", HOUSE, category="house"), segment("robot_a", ROBOT_A, category="robot"),
      segment("robot_b", ROBOT_B, category="robot")]
MINED = [segment(f"sp{k}", (k * 15, 0, k * 15 + 15, 60), source="superpixel") for k in range(6)]


def test_ground_truth_wins_and_is_never_mixed_with_mined_masks():
    result = describe(PIXELS, GT + MINED, max_instances=2)
    used = {sid for row in result.segcap for sid in row["segment_ids"]}
    used |= {d["target_id"] for d in result.descriptions if d["target_id"]}
    assert used and not any(s.startswith("sp") for s in used)
    # counts come from every annotated instance, not from the two described or from the masks
    assert scene_sentence(result) == "A scene showing one house and two robots."
    assert result.counters["images_described_from.gt"] == 1
    panoptic = next(r for r in result.segcap if r["task"] == "panoptic")
    assert panoptic["mask_labels"] == ["house", "robot"]  # only described instances are grounded


def test_mined_option_uses_only_mined_masks_and_calls_them_regions():
    result = describe(PIXELS, GT + MINED, mask_source="mined")
    used = {sid for row in result.segcap for sid in row["segment_ids"]}
    assert used and all(s.startswith("sp") for s in used)
    assert scene_sentence(result) == "A scene without annotated objects."
    for text in texts(result):
        if text != "A scene without annotated objects.":
            assert not re.search(r"\bobjects?\b", text), text
    assert not any(r["task"] == "panoptic" for r in result.segcap)  # no class, no panoptic name


def test_unlabelled_parents_and_parts_never_read_object_has_objects():
    parent = segment("sp", (0, 0, 90, 60), source="superpixel")
    corners = [(0, 0, 30, 20), (60, 0, 90, 20), (0, 40, 30, 60), (60, 40, 90, 60)]
    parts = [segment(f"sp-{k}", box, source="superpixel", level=1, parent="sp")
             for k, box in enumerate(corners)]
    result = describe(canvas(*[(box, "red") for box in corners]), [parent, *parts])
    subtree = next(r for r in result.segcap if r["granularity"] == "subtree")
    answer = subtree["conversations"][1]["value"]
    assert answer == ("The region has four parts: <p> the medium-sized red part at the top left </p> [SEG], "
                      "<p> the medium-sized red part at the top right </p> [SEG], <p> the medium-sized red part "
                      "at the bottom left </p> [SEG] and <p> the medium-sized red part at the bottom "
                      "right </p> [SEG].")
    instance = next(d for d in result.descriptions if d["scope"] == "instance")
    assert instance["detailed"].endswith("It has four parts.")  # not "four annotated parts: ..."


def test_repeated_phrases_are_told_apart_or_left_out():
    twins = [segment("a", (2, 2, 12, 12), source="superpixel"),
             segment("b", (14, 2, 24, 12), source="superpixel"),   # same cell, same look: left out
             segment("c", (70, 45, 80, 55), source="superpixel")]  # same look, other cell
    pixels = canvas(((2, 2, 12, 12), "red"), ((14, 2, 24, 12), "red"), ((70, 45, 80, 55), "red"))
    result = describe(pixels, twins)
    root = next(r for r in result.segcap if r["granularity"] == "root")
    phrases = parse_grounded(root["conversations"][1]["value"]).phrases
    assert len(phrases) == len(set(phrases)) == 2
    assert phrases == ["a small red region at the top left", "a small red region at the bottom right"]


def test_crowd_regions_are_not_instances_and_not_in_panoptic():
    people = [segment("p1", (5, 5, 15, 40), category="person", crowd=False),
              segment("p2", (20, 5, 30, 40), category="person", crowd=False),
              segment("crowd", (40, 5, 88, 40), category="person", crowd=True)]
    pixels = canvas(((5, 5, 15, 40), "red"), ((20, 5, 30, 40), "blue"), ((40, 5, 88, 40), "yellow"))
    result = describe(pixels, people)
    assert scene_sentence(result) == "A scene showing two people, and a crowd of people."
    assert "crowd" not in {d["target_id"] for d in result.descriptions}
    assert all("crowd" not in row["segment_ids"] for row in result.segcap)
    panoptic = next(r for r in result.segcap if r["task"] == "panoptic")
    assert panoptic["mask_labels"] == ["person-1", "person-2"]
    assert result.counters["crowd_regions_not_described"] == 1


@pytest.mark.parametrize(("category", "words"), [("sky-other-merged", "sky"),
                                                  ("static_person", "static person"),
                                                  ("wall-brick", "brick wall")])
def test_class_names_are_cleaned_for_text(category, words):
    result = describe(canvas(((0, 0, 90, 30), "blue")), [segment("s", (0, 0, 90, 30), category=category)])
    for text in texts(result):
        assert category not in text or category == words
    instance = next(d for d in result.descriptions if d["scope"] == "instance")
    assert words in instance["short"]
    attributes = {a["name"]: a["value"] for a in instance["attributes"]}
    assert attributes["category"] == category  # the data keeps the dataset's own name
