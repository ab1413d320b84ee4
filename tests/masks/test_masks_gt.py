"""Ground-truth hierarchies reproduce known trees; the evaluation metrics on them.

Every forest here is built the way the mine stage builds it: a reader ingests the annotations
into a dataset directory, then `from_segment_rows` turns the stored `segments` rows into a forest.
"""

import base64
import json

import numpy as np
import pytest

from annotators.images import encode_png
from annotators.masks.evaluation import average_recall, hierarchical_recall, nesting_violations
from annotators.masks.gt import HierarchyError, from_segment_rows
from annotators.synthetic import generate_scene
from pipelines.ingest.demo_data import write_scenes
from pipelines.stages.ingest import ingest
from pipelines.store.dataset_dir import DatasetDir
from pipelines.store.validate import validate_dataset
from schemas.masks import decode, encode_array


def _tree_signature(forest):
    """(name, level, parent's name path) per node, plus the decoded masks."""
    def path(i):
        names = []
        while i is not None:
            names.append(forest.nodes[i].category)
            i = forest.nodes[i].parent
        return "/".join(reversed(names))
    return [(path(i), n.level) for i, n in enumerate(forest.nodes)]


def _ingested(format, source, images, out) -> DatasetDir:
    ingest(format, source, images, out, progress=False)
    return DatasetDir(out)


def _forests(dataset: DatasetDir) -> list:
    """The gt forest of every ingested image, as the mine stage builds it from `segments`."""
    segments = dataset.read("segments").to_pylist()
    forests = []
    for image in dataset.read("images").to_pylist():
        rows = [r for r in segments if r["image_id"] == image["image_id"]]
        forests.append(from_segment_rows(rows, image["height"], image["width"]))
    return forests


def _coco_file(root, annotations, categories, size) -> DatasetDir:
    """One noise image + a COCO instances file with `annotations` on it, ingested."""
    (root / "images").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)
    (root / "images" / "a.png").write_bytes(encode_png(pixels))
    coco = {"images": [{"id": 1, "file_name": "a.png", "height": size[0], "width": size[1]}],
            "annotations": [{"image_id": 1, "iscrowd": 0, **a} for a in annotations],
            "categories": categories}
    (root / "instances.json").write_text(json.dumps(coco))
    return _ingested("coco", root / "instances.json", root / "images", root / "ds")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_parent_ids_reproduce_the_synthetic_tree_exactly(seed, tmp_path):
    scene = generate_scene(seed, size=(128, 128))
    write_scenes(tmp_path / "scenes", 1, seed, size=(128, 128))
    [forest] = _forests(_ingested("coco", tmp_path / "scenes" / "instances.json",
                                  tmp_path / "scenes" / "images", tmp_path / "ds"))
    nodes = scene.nodes()
    assert len(forest.nodes) == len(nodes)
    # match each forest node to the scene node with the identical mask, then compare structure
    truth_of = {}
    for index, node in enumerate(forest.nodes):
        mask = decode(node.rle).astype(bool)
        matches = [t for t in nodes if np.array_equal(t.mask, mask)]
        assert len(matches) == 1
        truth_of[index] = matches[0]
    assert len({id(t) for t in truth_of.values()}) == len(nodes)
    for index, node in enumerate(forest.nodes):
        truth = truth_of[index]
        assert node.category == truth.name and node.level == truth.level
        parent_truth = None if node.parent is None else truth_of[node.parent]
        assert parent_truth is truth.parent
    assert nesting_violations(forest, threshold=1.0) == []
    gt = [(encode_array(n.mask), n.level) for n in nodes]
    recall = hierarchical_recall(gt, [n.rle for n in forest.nodes])
    assert recall["overall"]["mean_iou"] == 1.0
    ar = average_recall([rle for rle, _ in gt], [n.rle for n in forest.nodes])
    assert min(10, len(gt)) / len(gt) <= ar["AR@10"] < 1.0 or len(gt) <= 10  # 10 masks, 10+ gt
    assert ar["AR@100"] == 1.0


def test_segment_rows_keep_ids_and_accept_any_row_order(tmp_path):
    write_scenes(tmp_path / "scenes", 1, 4, size=(96, 96))
    dataset = _ingested("coco", tmp_path / "scenes" / "instances.json",
                        tmp_path / "scenes" / "images", tmp_path / "ds")
    rows = dataset.read("segments").to_pylist()
    assert {r["parent_id"] for r in rows} - {None} <= {r["segment_id"] for r in rows}
    forest = from_segment_rows(list(reversed(rows)), 96, 96)
    assert sorted(n.segment_id for n in forest.nodes) == sorted(r["segment_id"] for r in rows)
    for node in forest.nodes:
        if node.parent is not None:
            assert forest.nodes[node.parent].level == node.level - 1
    assert _tree_signature(forest) == sorted(_tree_signature(forest), key=lambda s: s[1])


def test_broken_structure_is_refused_with_a_reason(tmp_path):
    """Ingest drops the broken annotations one by one, for the reason the rule gives; rows
    that still arrive broken (written by hand) make `from_segment_rows` refuse the image."""
    rle = encode_array(np.ones((4, 4)))
    dataset = _coco_file(tmp_path, [
        {"id": 1, "category_id": 1, "parent_id": 9, "segmentation": rle},
        {"id": 2, "category_id": 1, "parent_id": 3, "segmentation": rle},
        {"id": 3, "category_id": 1, "parent_id": 2, "segmentation": rle},
        {"id": 4, "category_id": 1, "segmentation": rle},
    ], [{"id": 1, "name": "thing"}], (4, 4))
    reasons = {r["input_ref"]: r["reason"] for r in dataset.read("rejects").to_pylist()}
    assert reasons == {"annotation 1": "unknown_parent", "annotation 2": "parent_cycle",
                       "annotation 3": "parent_cycle"}
    [forest] = _forests(dataset)
    assert _tree_signature(forest) == [("thing", 0)]

    with pytest.raises(HierarchyError) as missing:
        from_segment_rows([{"segment_id": "1", "parent_id": "9", "mask": rle}], 4, 4)
    assert missing.value.reason == "missing_parent"
    with pytest.raises(HierarchyError) as cycle:
        from_segment_rows([{"segment_id": "1", "parent_id": "2", "mask": rle},
                           {"segment_id": "2", "parent_id": "1", "mask": rle}], 4, 4)
    assert cycle.value.reason == "parent_cycle"


def test_part_categories_hang_under_their_object(tmp_path):
    """PASCAL-Part style: an instance label map and a part label map, written as COCO whose
    part categories name their object category; each part hangs under its object."""
    instances = np.zeros((20, 20), dtype=np.int32)
    instances[2:10, 2:10] = 1
    instances[12:18, 12:18] = 2
    parts = np.zeros_like(instances)
    parts[2:5, 2:10] = 7
    parts[12:14, 12:18] = 8
    categories = [{"id": 1, "name": "robot"}, {"id": 2, "name": "house"},
                  {"id": 7, "name": "head", "parent": "robot"},
                  {"id": 8, "name": "roof", "parent": "house"}]
    annotations = [{"id": i, "category_id": i, "segmentation": encode_array(instances == i)}
                   for i in (1, 2)]
    annotations += [{"id": p, "category_id": p, "segmentation": encode_array((parts == p) & (instances > 0))}
                    for p in (7, 8)]
    [forest] = _forests(_coco_file(tmp_path, annotations, categories, (20, 20)))
    assert _tree_signature(forest) == [("robot", 0), ("house", 0), ("robot/head", 1), ("house/roof", 1)]
    assert [n.area for n in forest.nodes] == [64, 36, 24, 12]


def _mgsc_mask(mask):
    rle = encode_array(mask)
    return json.dumps({"size": rle["size"],
                       "counts": base64.b64encode(rle["counts"].encode()).decode()})


def test_mgsc_root_and_subtree_records(tmp_path):
    """A subtree's parts hang under the root segment with the subtree's label; a subtree whose
    label no root has keeps its parts as instances of their own."""
    person = np.zeros((30, 30), dtype=bool)
    person[5:25, 5:15] = True
    head = np.zeros_like(person)
    head[5:10, 5:15] = True
    (tmp_path / "images").mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (30, 30, 3), dtype=np.uint8)
    (tmp_path / "images" / "a.png").write_bytes(encode_png(pixels))

    def record(label, key, mask, name):
        return {"file_name": "a.png", "label": label, "gcg_caption": f"A <{key}>{name}</{key}>.",
                "gcg_labels": [key], key: {"mask": _mgsc_mask(mask), "label": name}}

    records = [record("root", "a", person, "person"), record("subtree: person", "h", head, "head"),
               record("subtree: dog", "t", ~person, "tail")]
    (tmp_path / "mgsc.json").write_text(json.dumps(records))
    dataset = _ingested("mgsc", tmp_path / "mgsc.json", tmp_path / "images", tmp_path / "ds")
    [forest] = _forests(dataset)
    assert _tree_signature(forest) == [("person", 0), ("tail", 0), ("person/head", 1)]
    # As stored, too: the orphan subtree's part is a level-0 root, not a parentless level 1.
    stored = {r["category"]: (r["level"], r["parent_id"] is None)
              for r in dataset.read("segments").to_pylist()}
    assert stored == {"person": (0, True), "head": (1, False), "tail": (0, True)}
    assert validate_dataset(tmp_path / "ds").ok


def test_mot_boxes_are_instances_without_parts(tmp_path):
    sequence = tmp_path / "seq"
    (sequence / "img1").mkdir(parents=True)
    (sequence / "gt").mkdir()
    (sequence / "seqinfo.ini").write_text("[Sequence]\nname=seq\nimDir=img1\nseqLength=1\n"
                                          "imWidth=30\nimHeight=30\nimExt=.png\n")
    pixels = np.random.default_rng(0).integers(0, 255, (30, 30, 3), dtype=np.uint8)
    (sequence / "img1" / "000001.png").write_bytes(encode_png(pixels))
    (sequence / "gt" / "gt.txt").write_text("1,3,2,2,5,4,1,1,1\n1,4,-5,10,20,40,1,1,1\n")
    [forest] = _forests(_ingested("mot", sequence, None, tmp_path / "ds"))
    assert [n.level for n in forest.nodes] == [0, 0]
    assert [n.track_id for n in forest.nodes] == [3, 4]
    assert forest.nodes[0].area == 20 and forest.nodes[1].bbox == [0.0, 10.0, 15.0, 20.0]
