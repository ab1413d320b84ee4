"""Bad input is a reject with its reason; a bug in a reader is never taken for bad input.

Every reader checks the fields it reads and raises ItemError(bad_field) itself, so the stage no
longer turns KeyError/TypeError/ValueError into `bad_field`. Under the suite
(SEGCAP_RAISE_READER_BUGS, set in tests/conftest.py) a reader's unexpected exception fails the
test; at run time it is a `reader_bug` reject, counted apart, and the step fails (exit 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from conformance_fixtures import noise, rejects, rows, save, write_json

from pipelines.engine.stage import StepResultError
from pipelines.ingest import grandf
from pipelines.ingest.base import RAISE_READER_BUGS_ENV
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from schemas.masks import encode_array
from schemas.rejects import Reason

H, W = 32, 48
RLE = encode_array(np.pad(np.ones((8, 8), dtype=np.uint8), ((2, H - 10), (2, W - 10))))


@pytest.fixture
def images(tmp_path):
    save(tmp_path / "images" / "a.jpg", noise(1, H, W))
    return tmp_path / "images"


def _grandf_source(tmp_path):
    return write_json(tmp_path / "grandf.json", [
        {"file_name": "a.jpg", "caption": "A dog.",
         "groundings": {"A dog": {"token_positives": [0, 5], "rle_masks": [RLE]}}}])


def _buggy(record, image, ctx):
    raise TypeError("'NoneType' object is not subscriptable")  # a slip in the reader's code


def test_a_reader_bug_fails_the_test_instead_of_becoming_bad_field(tmp_path, images, monkeypatch):
    monkeypatch.setattr(grandf, "_decode_record", _buggy)
    with pytest.raises(TypeError, match="not subscriptable"):
        ingest("grandf", _grandf_source(tmp_path), images, tmp_path / "out", progress=False)


def test_at_run_time_a_reader_bug_is_counted_apart_and_fails_the_step(tmp_path, images,
                                                                      monkeypatch):
    monkeypatch.delenv(RAISE_READER_BUGS_ENV, raising=False)
    monkeypatch.setattr(grandf, "_decode_record", _buggy)
    with pytest.raises(StepResultError, match=r"grandf reader failed on 1 item.*reader_bug"):
        ingest("grandf", _grandf_source(tmp_path), images, tmp_path / "out", progress=False)


def _ingest_reasons(tmp_path, fmt, source, images, **options) -> list[str]:
    """Reasons of the rejects; a reader bug raises here (the suite sets the env var)."""
    ingest(fmt, source, images, tmp_path / "out", progress=False, **options)
    return [reason for reason, _ in rejects(DatasetDir(tmp_path / "out"))]


GRANDF_BAD = [
    {"file_name": "a.jpg"},  # no caption, no groundings
    {"file_name": "a.jpg", "caption": 5, "groundings": {}},
    {"file_name": "a.jpg", "caption": "A dog.", "groundings": []},
    {"file_name": "a.jpg", "caption": "A dog.", "groundings": {"A dog": 5}},
    {"file_name": "a.jpg", "caption": "A dog.", "groundings": {"A dog": {"rle_masks": [RLE]}}},
    {"file_name": "a.jpg", "caption": "A dog.",
     "groundings": {"A dog": {"token_positives": [0], "rle_masks": [RLE]}}},
    {"file_name": "a.jpg", "caption": "A dog.",
     "groundings": {"A dog": {"token_positives": ["a", "b"], "rle_masks": [RLE]}}},
    {"file_name": "a.jpg", "caption": "A dog.",
     "groundings": {"A dog": {"token_positives": [0, 5], "rle_masks": [5]}}},
    {"file_name": "a.jpg", "caption": "A dog.",
     "groundings": {"A dog": {"token_positives": [0, 5], "rle_masks": [{"size": "x", "counts": 1}]}}},
]


@pytest.mark.parametrize("record", GRANDF_BAD)
def test_grandf_malformed_records_are_rejects(tmp_path, images, record):
    source = write_json(tmp_path / "grandf.json", [record])
    reasons = _ingest_reasons(tmp_path, "grandf", source, images)
    assert len(reasons) == 1 and reasons[0] != Reason.READER_BUG


MGSC_BAD = [
    {"file_name": "a.jpg", "gcg_caption": "A <k0>dog</k0>."},  # no gcg_labels
    {"file_name": "a.jpg", "gcg_labels": ["k0"]},  # no caption
    {"file_name": "a.jpg", "gcg_caption": 5, "gcg_labels": ["k0"], "k0": {"mask": "x"}},
    {"file_name": "a.jpg", "gcg_caption": "A <k0>dog</k0>.", "gcg_labels": ["k0"]},  # no k0
    {"file_name": "a.jpg", "gcg_caption": "A <k0>dog</k0>.", "gcg_labels": ["k0"], "k0": "m"},
    {"file_name": "a.jpg", "gcg_caption": "A <k0>dog</k0>.", "gcg_labels": ["k0"], "k0": {}},
    {"file_name": "a.jpg", "gcg_caption": "A <k0>dog</k0>.", "gcg_labels": ["k0"],
     "k0": {"mask": 5}},
    {"file_name": "a.jpg", "gcg_caption": "A <k0>dog</k0>.", "gcg_labels": ["k0"],
     "k0": {"mask": "{not json"}},
]


@pytest.mark.parametrize("record", MGSC_BAD)
def test_mgsc_malformed_records_are_rejects(tmp_path, images, record):
    source = write_json(tmp_path / "mgsc.json", [record])
    reasons = _ingest_reasons(tmp_path, "mgsc", source, images)
    assert len(reasons) == 1 and reasons[0] != Reason.READER_BUG


@pytest.mark.parametrize("record", [{"image": "a.jpg"}, {"image": "a.jpg", "conversations": 5}])
def test_llava_malformed_records_are_rejects(tmp_path, images, record):
    source = write_json(tmp_path / "llava.json", [record])
    assert _ingest_reasons(tmp_path, "llava", source, images) == [Reason.BAD_FIELD]


COCO_IMAGE = {"id": 1, "file_name": "a.jpg", "height": H, "width": W}
COCO_BAD = [
    ({"id": 1, "height": H, "width": W}, {}),  # an image entry without file_name
    ({"id": 1, "file_name": 5}, {}),
    ({**COCO_IMAGE, "height": "tall"}, {}),
    (COCO_IMAGE, {"segmentation": "garbage"}),
    (COCO_IMAGE, {"segmentation": [[1, "a", 3, 4, 5, 6]]}),
    (COCO_IMAGE, {"segmentation": [5]}),
    (COCO_IMAGE, {"segmentation": {"size": [H, W], "counts": 5}}),
    (COCO_IMAGE, {"segmentation": {"size": "x", "counts": "abc"}}),
    (COCO_IMAGE, {"segmentation": None, "bbox": [1, 2, "w", 4]}),
]


@pytest.mark.parametrize(("image", "change"), COCO_BAD)
def test_coco_malformed_entries_are_rejects(tmp_path, images, image, change):
    ann = {"id": 5, "image_id": 1, "category_id": 1, "segmentation": RLE, **change}
    source = write_json(tmp_path / "coco.json", {
        "images": [image], "categories": [{"id": 1, "name": "dog"}], "annotations": [ann]})
    reasons = _ingest_reasons(tmp_path, "coco", source, images)
    assert len(reasons) == 1 and reasons[0] != Reason.READER_BUG


PANOPTIC_BAD = [
    {"image_id": 1, "segments_info": []},  # no file_name
    {"image_id": 1, "file_name": 5, "segments_info": []},
    {"image_id": 1, "file_name": "a.png"},  # no segments_info
    {"image_id": 1, "file_name": "a.png", "segments_info": [5]},
    {"image_id": 1, "file_name": "a.png", "segments_info": [{"id": "x", "category_id": 1}]},
]


@pytest.mark.parametrize("annotation", PANOPTIC_BAD)
def test_panoptic_malformed_annotations_are_rejects(tmp_path, images, annotation):
    ids = np.zeros((H, W, 3), dtype=np.uint8)
    ids[0:10, :, 0] = 1
    save(tmp_path / "panoptic" / "a.png", ids)
    source = write_json(tmp_path / "panoptic.json", {
        "images": [COCO_IMAGE], "categories": [{"id": 1, "name": "dog"}],
        "annotations": [annotation]})
    reasons = _ingest_reasons(tmp_path, "coco-panoptic", source, images)
    assert len(reasons) == 1 and reasons[0] != Reason.READER_BUG


def test_refcoco_malformed_sentence_is_a_reject(tmp_path, images):
    source = write_json(tmp_path / "refcoco.json", {
        "images": [COCO_IMAGE], "categories": [{"id": 1, "name": "dog"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "segmentation": RLE}],
        "refs": [{"ref_id": 1, "image_id": 1, "ann_id": 5, "sentences": [5, {"sent": "a dog"}]}]})
    assert _ingest_reasons(tmp_path, "refcoco", source, images) == [Reason.BAD_FIELD]
    assert len(rows(DatasetDir(tmp_path / "out"), "segcap")) == 1
