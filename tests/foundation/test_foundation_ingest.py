"""Every reader on a small fixture the test writes; bad items go to rejects, nothing else lost."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from foundation_fixtures import blob, mglmm_string, photo, save, write_json
from PIL import Image
from pycocotools import mask as coco

from pipelines.ingest.base import IngestError
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from schemas.grounding import alignment_problems
from schemas.masks import encode_array

H, W = 48, 64


def run(fmt, source, images, out, **options):
    stats = ingest(fmt, source, images, out, progress=False, **options)
    return stats, DatasetDir(out)


def rows(dataset, config, columns=None):
    return dataset.read(config, columns).to_pylist()


def reasons(dataset):
    return sorted(r["reason"] for r in rows(dataset, "rejects"))


def test_images_folder_recursive(image_dir, tmp_path):
    stats, ds = run("images", image_dir, None, tmp_path / "out")
    names = sorted(r["file_name"] for r in rows(ds, "images"))
    assert names == ["astronaut.png", "chelsea.png", "sub/coffee.jpg"]
    assert reasons(ds) == ["unreadable_image"]
    assert stats.rows_in == 4 and stats.rows_out == 3
    image = rows(ds, "images")[0]
    assert (image["height"], image["width"]) == (H, W) and image["image"]["bytes"]
    assert ds.is_complete()


def test_pixel_limit_refuses_large_images(image_dir, tmp_path):
    _, ds = run("images", image_dir, None, tmp_path / "out", max_pixels=H * W - 1)
    assert ds.count("images") == 0
    assert reasons(ds).count("too_many_pixels") == 3


def coco_fixture(tmp_path: Path, image_dir: Path) -> Path:
    legs = blob(H, W, (10, 30, 20, 44))
    return write_json(tmp_path / "instances.json", {
        "images": [
            {"id": 1, "file_name": "astronaut.png", "height": H, "width": W},
            {"id": 2, "file_name": "sub/coffee.jpg"},
            {"id": 3, "file_name": "missing.png"},
            {"id": 4, "file_name": "../../escape.png"},
            {"id": 5, "file_name": "broken.png"},
            {"id": 6, "file_name": "chelsea.png", "height": 10, "width": 10},
        ],
        "categories": [{"id": 1, "name": "person", "supercategory": "person"},
                       {"id": 2, "name": "person:leg", "parent": 1},
                       {"id": 3, "name": "cup", "supercategory": "kitchen"},
                       {"id": 4, "name": "handle"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "segmentation": [[4, 4, 40, 4, 40, 46, 4, 46]]},
            {"id": 11, "image_id": 1, "category_id": 2, "segmentation": encode_array(legs)},
            {"id": 12, "image_id": 2, "category_id": 3, "segmentation": [[0, 0, 70, 0, 70, 20, 0, 20]]},
            {"id": 13, "image_id": 2, "category_id": 4, "parent_id": 12,
             "segmentation": [[2, 2, 8, 2, 8, 8, 2, 8]]},
            {"id": 14, "image_id": 2, "category_id": 99, "segmentation": [[2, 2, 8, 2, 8, 8]]},
            {"id": 15, "image_id": 2, "category_id": 3, "segmentation": {"size": [5, 5], "counts": "PP"}},
            {"id": 16, "image_id": 2, "category_id": 4, "parent_id": 777, "segmentation": [[1, 1, 3, 1, 3, 3]]},
            {"id": 17, "image_id": 42, "category_id": 1, "segmentation": [[1, 1, 3, 1, 3, 3]]},
        ],
    })


def test_coco_instances_with_parts_and_rejects(image_dir, tmp_path):
    stats, ds = run("coco", coco_fixture(tmp_path, image_dir), image_dir, tmp_path / "out")
    segments = {r["category"]: r for r in rows(ds, "segments")}
    assert sorted(segments) == ["cup", "handle", "person", "person:leg"]
    assert segments["person:leg"]["parent_id"] == segments["person"]["segment_id"]
    assert segments["handle"]["parent_id"] == segments["cup"]["segment_id"]
    assert [segments[c]["level"] for c in ("person", "person:leg", "cup", "handle")] == [0, 1, 0, 1]
    assert segments["cup"]["bbox"] == [0.0, 0.0, float(W), 20.0]  # the polygon was clipped to the image
    leg = coco.decode(segments["person:leg"]["mask"])
    assert np.array_equal(leg, blob(H, W, (10, 30, 20, 44)))
    assert reasons(ds) == sorted(["missing_image", "path_escapes_root", "unreadable_image",
                                  "size_mismatch", "unknown_category", "size_mismatch",
                                  "unknown_parent", "unknown_image"])
    assert ds.count("images") == 2 and stats.rows_in == 7


def test_coco_panoptic(image_dir, tmp_path):
    ids = np.zeros((H, W, 3), dtype=np.uint8)
    ids[0:20, :, 0] = 1  # segment id 1 (sky)
    ids[25:40, 5:20, 1] = 1  # id 256 (person-1)
    ids[25:40, 30:50, 0] = 3  # id 3 (person-2)
    save(tmp_path / "panoptic" / "astronaut.png", ids)
    source = write_json(tmp_path / "panoptic.json", {
        "images": [{"id": 1, "file_name": "astronaut.png", "height": H, "width": W}],
        "categories": [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "sky"}],
        "annotations": [{"image_id": 1, "file_name": "astronaut.png", "segments_info": [
            {"id": 1, "category_id": 2}, {"id": 256, "category_id": 1}, {"id": 3, "category_id": 1},
            {"id": 9, "category_id": 1}, {"id": 3, "category_id": 55}]}],
    })
    _, ds = run("coco-panoptic", source, image_dir, tmp_path / "out")
    segments = rows(ds, "segments")
    assert sorted(s["category"] for s in segments) == ["person", "person", "sky"]
    sample = rows(ds, "segcap")[0]
    answer = sample["conversations"][1]["value"]
    # MGLMM order: by category id (person 1 before sky 2), repeats numbered
    assert sample["task"] == "panoptic" and sample["mask_labels"] == ["person-1", "person-2", "sky"]
    assert not alignment_problems(answer, len(sample["masks"]), 3, sample["phrase_spans"])
    expected = (ids[..., 0].astype(int) + 256 * ids[..., 1].astype(int)) == 256
    assert np.array_equal(coco.decode(sample["masks"][0]), expected.astype(np.uint8))
    assert reasons(ds) == ["empty_mask", "unknown_category"]


def test_refcoco(image_dir, tmp_path):
    source = tmp_path / "refcoco"
    write_json(source / "instances.json", {
        "images": [{"id": 1, "file_name": "astronaut.png", "height": H, "width": W}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[4, 4, 30, 4, 30, 40, 4, 40]]},
            {"id": 6, "image_id": 1, "category_id": 1, "segmentation": [[40, 4, 60, 4, 60, 40, 40, 40]]}],
    })
    write_json(source / "refs.json", [
        {"ref_id": 1, "image_id": 1, "ann_id": 5, "sentences": [{"sent": "the left woman"},
                                                                 {"raw": "Woman on the left"}]},
        {"ref_id": 2, "image_id": 1, "ann_id": [5, 6], "sentences": [{"sent": "both people"}]},
        {"ref_id": 3, "image_id": 1, "ann_id": [-1], "sentences": [{"sent": "a dog"}]},
        {"ref_id": 4, "image_id": 1, "ann_id": 99, "sentences": [{"sent": "ghost"}]},
        {"ref_id": 5, "image_id": 77, "ann_id": 5, "sentences": [{"sent": "elsewhere"}]},
    ])
    _, ds = run("refcoco", source, image_dir, tmp_path / "out")
    samples = {r["conversations"][0]["value"].split("segment ")[1]: r for r in rows(ds, "segcap")}
    assert len(samples) == 4 and all(r["task"] == "referring" for r in samples.values())
    left = samples["the left woman in the image."]
    assert left["conversations"][1]["value"] == "Sure, <p> the left woman </p> [SEG]."
    both = coco.decode(samples["both people in the image."]["masks"][0])
    assert both[10, 10] == 1 and both[10, 50] == 1
    assert samples["a dog in the image."]["masks"] == []
    assert reasons(ds) == ["unknown_annotation", "unknown_image"]


def test_mgsc(image_dir, tmp_path):
    person, arm = blob(H, W, (5, 5, 40, 45)), blob(H, W, (5, 5, 15, 30), hole=True)
    cup = blob(H, W, (45, 30, 60, 45))
    source = write_json(tmp_path / "mgsc.json", [
        {"file_name": "astronaut.png", "label": "root",
         "gcg_caption": "An <a>astronaut</a> holds a <b>cup</b>.", "gcg_labels": ["a", "b"],
         "a": {"mask": mglmm_string(person), "label": "astronaut"},
         "b": {"mask": mglmm_string(cup), "label": "cup"}},
        {"file_name": "astronaut.png", "label": "subtree: astronaut",
         "gcg_caption": "Her <x>left arm</x> is raised.", "gcg_labels": ["x"],
         "x": {"mask": mglmm_string(arm), "label": "arm"}},
        {"file_name": "astronaut.png", "label": "root", "gcg_caption": "A <a>thing</a>.",
         "gcg_labels": ["a"], "a": {"mask": '{"size": [2, 2], "counts": "!!"}', "label": "x"}},
        {"file_name": "astronaut.png", "label": "root", "gcg_caption": "No tag here.",
         "gcg_labels": ["q"], "q": {"mask": mglmm_string(cup), "label": "cup"}},
        {"label": "root", "gcg_caption": "no file"},
    ])
    _, ds = run("mgsc", source, image_dir, tmp_path / "out")
    samples = {r["granularity"]: r for r in rows(ds, "segcap")}
    root, sub = samples["root"], samples["subtree"]
    assert root["conversations"][1]["value"] == (
        "An <p> astronaut </p> [SEG] holds a <p> cup </p> [SEG].")
    assert root["mask_labels"] == ["astronaut", "cup"] and sub["subtree"] == "astronaut"
    assert np.array_equal(coco.decode(root["masks"][1]), cup)
    assert np.array_equal(coco.decode(sub["masks"][0]), arm)
    segments = {r["category"]: r for r in rows(ds, "segments")}
    assert segments["arm"]["parent_id"] == segments["astronaut"]["segment_id"]
    assert segments["arm"]["level"] == 1
    assert reasons(ds) == ["bad_caption", "bad_field", "undecodable"]


def uncompressed(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE (list counts over the column-major flattening, zeros first)."""
    flat = mask.flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    return {"size": list(mask.shape), "counts": ([0] + counts) if flat[0] else counts}


def test_grandf(image_dir, tmp_path):
    man_a, man_b, horse = (blob(H, W, (2, 2, 10, 10)), blob(H, W, (20, 2, 30, 12)),
                           blob(H, W, (5, 20, 50, 45)))
    caption = "Two men ride a horse."
    source = write_json(tmp_path / "gcg.json", [
        {"file_name": "sub/coffee.jpg", "caption": caption, "groundings": {
            "a horse": {"token_positives": [13, 20], "rle_masks": [encode_array(horse)]},
            "Two men": {"token_positives": [0, 7], "rle_masks": [
                encode_array(man_a), uncompressed(man_b)]}}},
        {"file_name": "sub/coffee.jpg", "caption": "bad", "groundings": {
            "x": {"token_positives": [0, 50], "rle_masks": [encode_array(horse)]}}},
        {"file_name": "chelsea.png", "caption": "A cat.", "groundings": {
            "A cat": {"token_positives": [0, 5], "rle_masks": [{"size": [3, 3], "counts": "0"}]}}},
    ])
    _, ds = run("grandf", source, image_dir, tmp_path / "out")
    (sample,) = rows(ds, "segcap")
    answer = sample["conversations"][1]["value"]
    assert answer == "<p> Two men </p> [SEG] ride <p> a horse </p> [SEG]."
    assert sample["task"] == "gcg" and sample["mask_labels"] == ["Two men", "a horse"]
    assert np.array_equal(coco.decode(sample["masks"][0]), np.maximum(man_a, man_b))
    assert not alignment_problems(answer, 2, 2, sample["phrase_spans"])
    assert reasons(ds) == ["bad_span", "size_mismatch"]
    assert ds.count("images") == 2  # chelsea's image is kept even though its only record failed


def test_llava(image_dir, tmp_path):
    turns = [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A cat."}]
    source = write_json(tmp_path / "llava.json", [
        {"id": "a", "image": "chelsea.png", "conversations": turns},
        {"id": "b", "image": "chelsea.png", "conversations": [{"from": "user", "value": "<image>\nHi"},
                                                             {"from": "assistant", "value": "Hello"}]},
        {"id": "c", "conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]},
        {"id": "d", "image": "chelsea.png", "conversations": [{"from": "robot", "value": "x"}]},
        {"id": "e", "image": "nope.jpg", "conversations": turns},
    ])
    _, ds = run("llava", source, image_dir, tmp_path / "out")
    instructions = {r["sample_id"]: r for r in rows(ds, "instructions")}
    assert len(instructions) == 3 and ds.count("images") == 1
    by_text = {r["conversations"][-1]["value"]: r for r in instructions.values()}
    assert by_text["4"]["image_id"] is None
    assert by_text["Hello"]["conversations"][0]["from"] == "human"
    assert all(v is None for v in by_text["A cat."]["capability_scores"].values())
    assert by_text["A cat."]["styles"] == [] and by_text["A cat."]["selected"] is False
    assert reasons(ds) == ["bad_field", "missing_image"]


def test_mot(tmp_path):
    seq = tmp_path / "mot" / "MOT17-02"
    for frame in (1, 2):
        save(seq / "img1" / f"{frame:06d}.jpg", photo("astronaut" if frame == 1 else "coffee"))
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=MOT17-02\nimDir=img1\nframeRate=30\n"
                                     f"seqLength=3\nimWidth={W}\nimHeight={H}\nimExt=.jpg\n")
    (seq / "gt").mkdir()
    (seq / "gt" / "gt.txt").write_text(
        "1,1,5,5,10,20,1,1,1.0\n1,2,50,30,30,30,1,3,0.5\n2,1,6,5,10,20,1,1,1.0\n"
        "3,1,5,5,10,20,1,1,1.0\nnot,a,line\n2,3,5,5,0,0,1,1,1\n")
    _, ds = run("mot", tmp_path / "mot", None, tmp_path / "out")
    images = sorted(rows(ds, "images"), key=lambda r: r["frame_index"])
    assert [(r["video_id"], r["frame_index"]) for r in images] == [("MOT17-02", 1), ("MOT17-02", 2)]
    segments = rows(ds, "segments")
    assert sorted((s["track_id"], s["category"]) for s in segments) == [
        (1, "person"), (1, "person"), (2, "car")]
    car = next(s for s in segments if s["track_id"] == 2)
    assert car["bbox"] == [50.0, 30.0, 14.0, 18.0] and car["level"] == 0 and car["mask_source"] == "gt"
    assert reasons(ds) == ["bad_field", "empty_mask", "missing_image"]


def test_unusable_sources_raise_clear_errors(tmp_path, image_dir):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IngestError, match="bad.json is not valid JSON"):
        ingest("coco", bad, image_dir, tmp_path / "out", progress=False)
    with pytest.raises(IngestError, match="does not exist"):
        ingest("coco", tmp_path / "nope.json", image_dir, tmp_path / "out", progress=False)
    with pytest.raises(IngestError, match="expected images"):
        ingest("coco", write_json(tmp_path / "c.json", {"images": {}}), image_dir, tmp_path / "o",
               progress=False)


def test_png_bomb_header_is_refused(tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    huge = Image.new("1", (12000, 12000))
    buffer = io.BytesIO()
    huge.save(buffer, format="PNG")
    (folder / "bomb.png").write_bytes(buffer.getvalue())
    _, ds = run("images", folder, None, tmp_path / "out", max_pixels=10_000_000)
    assert reasons(ds) == ["too_many_pixels"] and ds.count("images") == 0
    assert base64  # base64 PNG masks are covered in test_foundation_masks
