"""Granularity definitions and pair mining on small hand-made forests."""

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from annotators.masks.evaluation import granularity_order_violations
from annotators.masks.forest import MaskForest
from annotators.masks.granularity import granularity
from annotators.masks.mining import mine_pairs
from schemas.masks import encode_array


def test_unsamv2_formula_and_lone_instance():
    assert granularity("unsamv2", [400, 100, 25]) == pytest.approx([1.0, 0.4, 0.1])
    assert granularity("unsamv2", [900]) == [1.0]


def test_graco_formula():
    assert granularity("graco", [100, 34, 5, 100, 150]) == pytest.approx([1.0, 0.3, 0.1, 1.0, 1.0])


@pytest.mark.parametrize("definition", ["unsamv2", "graco"])
def test_granularity_always_in_range(definition):
    rng = np.random.default_rng(0)
    for _ in range(50):
        areas = sorted(rng.integers(1, 10_000, size=rng.integers(1, 8)).tolist(), reverse=True)
        values = granularity(definition, areas)
        assert all(0.1 <= v <= 1.0 for v in values)
        assert values[0] == 1.0


def test_unknown_definition_is_refused():
    with pytest.raises(ValueError, match="unsamv2"):
        granularity("sam2", [10])


def _box(h, w, y0, y1, x0, x1):
    mask = np.zeros((h, w), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return encode_array(mask)


def nested_forest() -> MaskForest:
    forest = MaskForest(64, 64)
    root = forest.add(_box(64, 64, 0, 60, 0, 60), None, "superpixel")
    part = forest.add(_box(64, 64, 0, 30, 0, 30), root, "superpixel")
    forest.add(_box(64, 64, 0, 29, 0, 30), part, "superpixel")  # near-identical to its parent
    forest.add(_box(64, 64, 5, 25, 5, 25), part, "superpixel")
    forest.add(_box(64, 64, 40, 43, 40, 43), root, "superpixel")  # 9 px: under the min area
    return forest


@pytest.mark.parametrize("definition", ["unsamv2", "graco"])
def test_instance_path_pairs_follow_the_path_and_drops_are_counted(definition):
    result = mine_pairs(nested_forest(), "img", definition=definition, points=30, seed=1, min_area=16,
                        clicks="instance_path")
    assert result.drops == {"below_min_area": 1, "near_duplicate": 1}
    assert len(result.forest.nodes) == 3
    assert granularity_order_violations(result.pairs) == 0
    by_point = {}
    for pair in result.pairs:
        by_point.setdefault(tuple(pair["point"]), []).append(pair)
        mask = coco_mask.decode(pair["mask"])
        x, y = (int(v) for v in pair["point"])
        assert mask[y, x] == 1
        assert int(coco_mask.area(pair["mask"])) == pair["area"]
        assert 0.1 <= pair["granularity"] <= 1.0
        assert pair["is_part"] == (pair["level"] > 0)
    for path in by_point.values():
        assert [p["level"] for p in path] == list(range(len(path)))
        assert path[0]["granularity"] == 1.0
    # a point inside the small box climbs three masks, one outside the part only the root
    assert {len(p) for p in by_point.values()} <= {1, 2, 3}
    assert max(len(p) for p in by_point.values()) == 3


def test_instance_path_points_avoid_the_eroded_border_and_are_seeded():
    forest = nested_forest()
    options = {"definition": "unsamv2", "points": 10, "min_area": 16, "clicks": "instance_path"}
    first = mine_pairs(forest, "img", seed=3, **options)
    again = mine_pairs(forest, "img", seed=3, **options)
    other = mine_pairs(forest, "img", seed=4, **options)
    points = [p["point"] for p in first.pairs]
    assert points == [p["point"] for p in again.pairs]
    assert points != [p["point"] for p in other.pairs]
    radius = int(np.ceil(0.1 * np.sqrt(60 * 60)))  # 6 px from every edge of the 60x60 root
    for x, y in points:
        assert radius <= x < 60 - radius and radius <= y < 60 - radius


def test_path_is_capped():
    forest = MaskForest(64, 64)
    parent = None
    for depth in range(8):
        parent = forest.add(_box(64, 64, 0, 64 - 6 * depth, 0, 64 - 6 * depth), parent, "sam")
    result = mine_pairs(forest, "img", definition="graco", points=4, seed=0, min_area=4,
                        iou_merge=0.99, max_path=6, clicks="instance_path")
    assert result.forest.depth() == 8
    assert max(p["level"] for p in result.pairs) <= 5


@pytest.mark.parametrize("definition", ["unsamv2", "graco"])
def test_proposal_pairs_click_inside_each_mask_and_are_seeded(definition):
    forest = nested_forest()
    first = mine_pairs(forest, "img", definition=definition, points=5, seed=2, min_area=16)
    again = mine_pairs(forest, "img", definition=definition, points=5, seed=2, min_area=16)
    assert [p["pair_id"] for p in first.pairs] == [p["pair_id"] for p in again.pairs]
    assert len({p["pair_id"] for p in first.pairs}) == len(first.pairs)
    plain = [p for p in first.pairs if not p["is_residual"]]
    assert len(plain) == 5 * 3  # three kept masks, five clicks each
    for pair in first.pairs:
        x, y = (int(v) for v in pair["point"])
        assert coco_mask.decode(pair["mask"])[y, x] == 1
        assert int(coco_mask.area(pair["mask"])) == pair["area"]
    residuals = [p for p in first.pairs if p["is_residual"]]
    # graco: root 3600 px; part 900 (residual share 0.75 -> kept), its 400 px child (0.9 -> kept)
    assert len(residuals) == (10 if definition == "graco" else 0)
    assert first.counts["graco_residuals"] == (2 if definition == "graco" else 0)
    assert granularity_order_violations(plain) == 0


def test_unknown_click_rule_is_refused():
    with pytest.raises(ValueError, match="instance_path"):
        mine_pairs(nested_forest(), "img", definition="graco", points=1, seed=0, min_area=1,
                   clicks="somewhere")
