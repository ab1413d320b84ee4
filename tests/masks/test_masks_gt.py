"""Ground-truth hierarchies reproduce known trees; the evaluation metrics on them."""

import base64
import json

import numpy as np
import pytest

from annotators.masks.evaluation import average_recall, hierarchical_recall, nesting_violations
from annotators.masks.gt import (
    HierarchyError,
    from_coco,
    from_mgsc,
    from_mot_boxes,
    from_part_label_maps,
    from_segment_rows,
)
from annotators.synthetic import generate_scene
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


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_parent_ids_reproduce_the_synthetic_tree_exactly(seed):
    scene = generate_scene(seed, size=(128, 128))
    forest = from_coco(scene.coco_annotations(), 128, 128)
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


def test_segment_rows_keep_ids_and_accept_any_row_order():
    scene = generate_scene(4, size=(96, 96))
    rows = from_coco(scene.coco_annotations(), 96, 96).segment_rows("img")
    forest = from_segment_rows(list(reversed(rows)), 96, 96)
    assert sorted(n.segment_id for n in forest.nodes) == sorted(r["segment_id"] for r in rows)
    for node in forest.nodes:
        if node.parent is not None:
            assert forest.nodes[node.parent].level == node.level - 1
    assert _tree_signature(forest) == sorted(_tree_signature(forest), key=lambda s: s[1])


def test_broken_structure_is_refused_with_a_reason():
    rle = encode_array(np.ones((4, 4)))
    with pytest.raises(HierarchyError) as missing:
        from_coco([{"id": 1, "parent_id": 9, "segmentation": rle}], 4, 4)
    assert missing.value.reason == "missing_parent"
    with pytest.raises(HierarchyError) as cycle:
        from_coco([{"id": 1, "parent_id": 2, "segmentation": rle},
                   {"id": 2, "parent_id": 1, "segmentation": rle}], 4, 4)
    assert cycle.value.reason == "parent_cycle"


def test_part_label_maps():
    instances = np.zeros((20, 20), dtype=np.int32)
    instances[2:10, 2:10] = 1
    instances[12:18, 12:18] = 2
    parts = np.zeros_like(instances)
    parts[2:5, 2:10] = 7
    parts[12:14, 12:18] = 8
    forest = from_part_label_maps(instances, parts, part_names={7: "head", 8: "roof"},
                                  instance_names={1: "robot", 2: "house"})
    assert _tree_signature(forest) == [("robot", 0), ("house", 0), ("robot/head", 1), ("house/roof", 1)]
    assert [n.area for n in forest.nodes] == [64, 36, 24, 12]


def _mgsc_mask(mask):
    rle = encode_array(mask)
    return json.dumps({"size": rle["size"],
                       "counts": base64.b64encode(rle["counts"].encode()).decode()})


def test_mgsc_root_and_subtree_records():
    person = np.zeros((30, 30), dtype=bool)
    person[5:25, 5:15] = True
    head = np.zeros_like(person)
    head[5:10, 5:15] = True
    records = [
        {"label": "root", "gcg_labels": ["a"], "a": {"mask": _mgsc_mask(person), "label": "person"}},
        {"label": "subtree: person", "gcg_labels": ["h"], "h": {"mask": _mgsc_mask(head), "label": "head"}},
        {"label": "subtree: dog", "gcg_labels": ["t"], "t": {"mask": _mgsc_mask(~person), "label": "tail"}},
    ]
    forest = from_mgsc(records, 30, 30)
    assert _tree_signature(forest) == [("person", 0), ("dog", 0), ("person/head", 1), ("dog/tail", 1)]


def test_mot_boxes_are_instances_without_parts():
    forest = from_mot_boxes([{"track_id": 3, "bbox": [2, 2, 5, 4]},
                             {"track_id": 4, "bbox": [-5, 10, 20, 40]}], 30, 30)
    assert [n.level for n in forest.nodes] == [0, 0]
    assert [n.track_id for n in forest.nodes] == [3, 4]
    assert forest.nodes[0].area == 20 and forest.nodes[1].bbox == [0.0, 10.0, 15.0, 20.0]
