"""RefCOCO without ref_id, COCO panoptic with stuff classes and crowd, MGSC empty tags, LLaVA
duplicate ids: every record gets a unique id, and every repeat or empty tag is a reject."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from conformance_fixtures import H, W, box, noise, rejects, rows, run, save, write_json
from pycocotools import mask as coco

from schemas.grounding import alignment_problems
from schemas.masks import encode_array


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "images"
    for k, name in enumerate(("a.jpg", "b.jpg")):
        save(root / name, noise(10 + k, H, W))
    return root


def test_refcoco_refs_without_ref_id_get_unique_ids(tmp_path, images):
    source = write_json(tmp_path / "refcoco.json", {
        "images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 1,
                         "segmentation": encode_array(box(2, 2, 10, 20))},
                        {"id": 6, "image_id": 1, "category_id": 1,
                         "segmentation": encode_array(box(20, 2, 30, 20))}],
        "refs": [
            {"image_id": 1, "ann_id": 5, "sentences": [{"sent": "left man"}, {"sent": "man left"}]},
            {"image_id": 1, "ann_id": 6, "sentences": [{"sent": "right man", "sent_id": 77}]},
            {"ref_id": 9, "image_id": 1, "ann_id": 6, "sentences": [{"sent": "the other"}]},
            {"ref_id": 9, "image_id": 1, "ann_id": 5, "sentences": [{"sent": "repeated id"}]},
        ],
    })
    _, ds = run("refcoco", source, images, tmp_path / "out")
    samples = rows(ds, "segcap")
    assert len({s["sample_id"] for s in samples}) == len(samples) == 4
    assert sorted(s["source_id"] for s in samples) == ["77", "9:0", "refs[0]:0", "refs[0]:1"]
    by_text = {s["conversations"][1]["value"]: s for s in samples}
    right = by_text["Sure, <p> right man </p> [SEG]."]
    assert np.array_equal(coco.decode(right["masks"][0]), box(20, 2, 30, 20))
    assert rejects(ds) == [("duplicate_id", "ref 9")]


def test_panoptic_stuff_names_and_crowd(tmp_path, images):
    ids = np.zeros((H, W, 3), dtype=np.uint8)
    ids[0:10, :, 0] = 1      # segment 1: sky-other-merged (category 187)
    ids[12:30, 0:10, 0] = 2  # segment 2: person
    ids[12:30, 12:20, 0] = 3  # segment 3: person
    ids[12:30, 22:34, 0] = 4  # segment 4: a crowd of persons
    ids[12:30, 36:46, 0] = 5  # segment 5: wall-brick (category 171)
    save(tmp_path / "panoptic" / "a.png", ids)
    source = write_json(tmp_path / "panoptic.json", {
        "images": [{"id": 139, "file_name": "a.jpg", "height": H, "width": W}],
        "categories": [{"id": 187, "name": "sky-other-merged", "isthing": 0},
                       {"id": 1, "name": "person", "isthing": 1},
                       {"id": 171, "name": "wall-brick", "isthing": 0}],
        "annotations": [{"image_id": 139, "file_name": "a.png", "segments_info": [
            {"id": 1, "category_id": 187, "iscrowd": 0}, {"id": 2, "category_id": 1, "iscrowd": 0},
            {"id": 4, "category_id": 1, "iscrowd": 1}, {"id": 3, "category_id": 1, "iscrowd": 0},
            {"id": 5, "category_id": 171, "iscrowd": 0}]}],
    })
    stats, ds = run("coco-panoptic", source, images, tmp_path / "out")
    (sample,) = rows(ds, "segcap")
    answer = sample["conversations"][1]["value"]
    assert sample["conversations"][0]["value"] == "<image>\nCan you segment all the objects in the image?"
    assert answer == ("Sure, the image contains <p> person-1 </p> [SEG], <p> person-2 </p> [SEG], "
                      "<p> brick wall </p> [SEG] and <p> sky </p> [SEG].")
    assert sample["mask_labels"] == ["person-1", "person-2", "brick wall", "sky"]
    assert not alignment_problems(answer, 4, 4, sample["phrase_spans"])
    label_map = ids[..., 0]
    for mask, segment_id in zip(sample["masks"], (2, 3, 5, 1), strict=True):
        assert np.array_equal(coco.decode(mask), (label_map == segment_id).astype(np.uint8))
    crowd = [s for s in rows(ds, "segments") if s["is_crowd"]]
    assert len(crowd) == 1 and crowd[0]["segment_id"] not in sample["segment_ids"]
    assert np.array_equal(coco.decode(crowd[0]["mask"]), (label_map == 4).astype(np.uint8))
    assert stats.counters["crowd_regions"] == 1 and sample["source_id"] == "139"


def mglmm_mask(mask: np.ndarray) -> str:
    rle = encode_array(mask)
    return json.dumps({"size": rle["size"],
                       "counts": base64.b64encode(rle["counts"].encode("ascii")).decode("ascii")})


def test_mgsc_empty_tags_and_repeated_records_are_rejects(tmp_path, images):
    good = {"file_name": "a.jpg", "label": "root", "gcg_caption": "A <k0>dog</k0>.",
            "gcg_labels": ["k0"], "k0": {"mask": mglmm_mask(box(1, 1, 9, 9)), "label": "dog"}}
    source = write_json(tmp_path / "mgsc.json", [
        good,
        {**good, "gcg_caption": "A <k0></k0> sits."},
        {**good, "gcg_caption": "A <k0>  </k0> sits."},
        good,
    ])
    _, ds = run("mgsc", source, images, tmp_path / "out")
    (sample,) = rows(ds, "segcap")
    assert sample["source_id"] == "mgsc.json[0]"
    assert rejects(ds) == [("bad_caption", "mgsc.json[1]"), ("bad_caption", "mgsc.json[2]"),
                           ("duplicate_id", "mgsc.json[3]")]


def test_llava_duplicate_ids_keep_the_first(tmp_path, images):
    turns = [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "first"}]
    later = [{"from": "human", "value": "<image>\nWhat?"}, {"from": "gpt", "value": "second"}]
    source = write_json(tmp_path / "llava.json", [
        {"id": "000001", "image": "a.jpg", "conversations": turns},
        {"id": "000001", "image": "b.jpg", "conversations": later},
        {"image": "a.jpg", "conversations": later},
        {"image": "a.jpg", "conversations": later},
    ])
    _, ds = run("llava", source, images, tmp_path / "out")
    instructions = rows(ds, "instructions")
    assert len(instructions) == 3 and len({r["sample_id"] for r in instructions}) == 3
    assert "first" in [r["conversations"][1]["value"] for r in instructions]
    assert rejects(ds) == [("duplicate_id", "llava.json[1]")]


def test_validate_names_an_empty_grounded_phrase(tmp_path, images):
    import pyarrow.parquet as pq

    from pipelines.store.validate import validate_dataset
    from schemas.contract import table_from_rows

    good = {"file_name": "a.jpg", "label": "root", "gcg_caption": "A <k0>dog</k0>.",
            "gcg_labels": ["k0"], "k0": {"mask": mglmm_mask(box(1, 1, 9, 9)), "label": "dog"}}
    _, ds = run("mgsc", write_json(tmp_path / "m.json", [good]), images, tmp_path / "out")
    rows_ = ds.read("segcap").to_pylist()
    rows_[0]["conversations"][1]["value"] = "A <p>  </p> [SEG]."  # as an old ingest wrote it
    rows_[0]["phrase_spans"] = [[6, 6]]
    for path in ds.shard_paths("segcap"):
        path.unlink()
    pq.write_table(table_from_rows("segcap", rows_), ds.config_dir("segcap") / "edited-00000.parquet")
    messages = [v.message for v in validate_dataset(ds.path).violations]
    assert any("1 empty <p> </p> phrase" in m for m in messages), messages


def test_llava_pool_is_streamed_in_order_with_text_only_chunks(tmp_path, images):
    turns = [{"from": "human", "value": "Q?"}, {"from": "gpt", "value": "A."}]
    records = [{"id": f"t{k}", "conversations": turns} for k in range(130)]
    records.insert(5, {"id": "img", "image": "b.jpg", "conversations": turns})
    source = tmp_path / "pool.json"
    source.write_text(json.dumps(records))
    stats, ds = run("llava", source, images, tmp_path / "out")
    instructions = rows(ds, "instructions")
    assert len(instructions) == 131 and len({r["sample_id"] for r in instructions}) == 131
    assert sum(r["image_id"] is not None for r in instructions) == 1
    assert stats.rows_in == 1 + 3  # one image item, 130 text-only records in chunks of 64
