"""COCO instances as they ship: crowd RLE, multi-part polygons, non-contiguous category ids,
box-only annotations, duplicate ids, and files too deep or too large to read whole."""

from __future__ import annotations

import numpy as np
import pytest
from conformance_fixtures import H, W, box, noise, rejects, rows, run, save, write_json
from pycocotools import mask as coco

from pipelines.ingest.base import IngestError
from schemas.masks import encode_array


def uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd encoding: counts as a list over the column-major pixels, zeros first."""
    flat = mask.flatten(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    return {"size": [H, W], "counts": ([0] + counts) if flat[0] else counts}


@pytest.fixture
def coco_dir(tmp_path):
    images = tmp_path / "images"
    save(images / "a.jpg", noise(1, H, W))
    save(images / "b.jpg", noise(2, H, W))
    save(images / "c.jpg", noise(3, H, W))
    return images


def test_crowd_parts_and_non_contiguous_categories(tmp_path, coco_dir):
    crowd = box(20, 10, 40, 30)
    source = write_json(tmp_path / "instances.json", {
        "images": [{"id": 397133, "file_name": "a.jpg", "height": H, "width": W}],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"},
                       {"id": 90, "name": "toothbrush"}],
        "annotations": [
            # two polygons of one object (an occluded car): one mask
            {"id": 11, "image_id": 397133, "category_id": 3, "iscrowd": 0,
             "segmentation": [[0, 0, 8, 0, 8, 8, 0, 8], [10, 0, 16, 0, 16, 8, 10, 8]]},
            {"id": 12, "image_id": 397133, "category_id": 3, "iscrowd": 1,
             "segmentation": uncompressed_rle(crowd)},
            {"id": 13, "image_id": 397133, "category_id": 90, "iscrowd": 0,
             "segmentation": encode_array(box(2, 20, 6, 30))},
        ],
    })
    stats, ds = run("coco", source, coco_dir, tmp_path / "out")
    segments = {r["category"] + ("*" if r["is_crowd"] else ""): r for r in rows(ds, "segments")}
    assert sorted(segments) == ["car", "car*", "toothbrush"]
    assert np.array_equal(coco.decode(segments["car*"]["mask"]), crowd)
    assert segments["car*"]["is_crowd"] is True and segments["car"]["is_crowd"] is False
    car = coco.decode(segments["car"]["mask"])
    assert car[4, 4] == 1 and car[4, 12] == 1 and car[4, 9] == 0  # both parts, the gap empty
    assert stats.counters["crowd_regions"] == 1
    (image,) = rows(ds, "images")
    assert image["source_id"] == "397133"
    assert rejects(ds) == []


def test_box_only_annotations_need_the_option(tmp_path, coco_dir):
    source = write_json(tmp_path / "boxes.json", {
        "images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
        "categories": [{"id": 5, "name": "airplane"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 5, "bbox": [4, 6, 10, 12]},
                        {"id": 2, "image_id": 1, "category_id": 5, "bbox": [0, 0, 5, 5],
                         "segmentation": []},
                        {"id": 3, "image_id": 1, "category_id": 5}],
    })
    _, ds = run("coco", source, coco_dir, tmp_path / "without")
    assert rows(ds, "segments") == []
    assert rejects(ds) == [("bad_field", "annotation 3 of image " + rows(ds, "images")[0]["image_id"]),
                           ("box_only", "annotation 1 of image " + rows(ds, "images")[0]["image_id"]),
                           ("box_only", "annotation 2 of image " + rows(ds, "images")[0]["image_id"])]
    assert all("--box-masks" in r["raw"] for r in rows(ds, "rejects") if r["reason"] == "box_only")

    stats, ds = run("coco", source, coco_dir, tmp_path / "with", box_masks=True)
    segments = sorted(rows(ds, "segments"), key=lambda r: r["bbox"][0])
    assert [s["mask_source"] for s in segments] == ["box", "box"]
    assert np.array_equal(coco.decode(segments[1]["mask"]), box(4, 6, 14, 18))
    assert stats.counters["box_masks"] == 2
    assert [r for r, _ in rejects(ds)] == ["bad_field"]


def test_duplicate_image_and_annotation_ids_keep_the_first(tmp_path, coco_dir):
    source = write_json(tmp_path / "dups.json", {
        "images": [{"id": 7, "file_name": "a.jpg"}, {"id": 7, "file_name": "b.jpg"},
                   {"id": 8, "file_name": "c.jpg"}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": encode_array(box(0, 0, 4, 4))},
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": encode_array(box(9, 9, 12, 12))},
            {"image_id": 8, "category_id": 1, "segmentation": encode_array(box(0, 0, 3, 3))},
            {"image_id": 8, "category_id": 1, "segmentation": encode_array(box(5, 5, 9, 9))},
        ],
    })
    _, ds = run("coco", source, coco_dir, tmp_path / "out")
    assert sorted(r["file_name"] for r in rows(ds, "images")) == ["a.jpg", "c.jpg"]
    segments = rows(ds, "segments")
    assert len(segments) == 3 and len({s["segment_id"] for s in segments}) == 3
    image_a = next(r["image_id"] for r in rows(ds, "images") if r["file_name"] == "a.jpg")
    (first,) = [s for s in segments if s["image_id"] == image_a]
    assert first["bbox"] == [0.0, 0.0, 4.0, 4.0]  # the first annotation 1, not the second
    assert [r for r, _ in rejects(ds)] == ["duplicate_id", "duplicate_id"]
    assert "image 7 (b.jpg)" in [ref for _, ref in rejects(ds)]


def test_deeply_nested_and_oversized_files_fail_naming_the_file(tmp_path, coco_dir):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(IngestError, match="deep.json is nested too deeply"):
        run("refcoco", deep, coco_dir, tmp_path / "o1")
    nested_annotation = tmp_path / "nested.json"
    nested_annotation.write_text(
        '{"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "x"}], '
        '"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": '
        + "[" * 50_000 + "]" * 50_000 + "}]}")
    with pytest.raises(IngestError, match="nested.json is nested 50003 levels deep"):
        run("coco", nested_annotation, coco_dir, tmp_path / "o2")
    # read whole (an object layout): the size limit applies; a top-level list is streamed instead
    big = write_json(tmp_path / "big.json", {"data": [{"file_name": "a.jpg", "caption": "x" * 300_000}]})
    with pytest.raises(IngestError, match=r"big.json is 0 MB, over the 0.1 MB limit.*--max-json-mb"):
        run("grandf", big, coco_dir, tmp_path / "o3", max_json_mb=0.1)


def test_wrong_shapes_are_named(tmp_path, coco_dir):
    with pytest.raises(IngestError, match="expected annotations to be a JSON list, got object"):
        run("coco", write_json(tmp_path / "a.json", {"images": [], "annotations": {}}), coco_dir,
            tmp_path / "o")
    with pytest.raises(IngestError, match="expected images to be a JSON list, got nothing"):
        run("coco", write_json(tmp_path / "b.json", [1, 2]), coco_dir, tmp_path / "o")
    with pytest.raises(IngestError, match="expected categories to be a JSON list, got object"):
        run("coco-panoptic", write_json(tmp_path / "p.json", {"categories": {}}), coco_dir,
            tmp_path / "o")
    with pytest.raises(IngestError, match="every category needs an id and a name"):
        run("coco-panoptic", write_json(tmp_path / "q.json", {"categories": [{"id": 1}]}), coco_dir,
            tmp_path / "o")
