"""GraCo's pair rules, ported here from REFERENCE.md section 5 and compared with ours.

The reference ports work on full-resolution arrays the plain way (iterated 3x3 erosion with the
image padded by ones, areas by counting pixels); ours work on bounding-box windows and runs.
"""

import math

import numpy as np
import pytest

from annotators.masks.clicks import erosion_iterations, graco_click_region
from annotators.masks.forest import MaskForest
from annotators.masks.granularity import graco_scale, granularity
from annotators.masks.mining import mine_pairs
from annotators.masks.rle_window import RunMask, counts_string, encode_window, run_lengths
from schemas.masks import decode, encode_array

# ---- the reference, written from the spec -------------------------------------------------


def ref_scale(part: int, whole: int) -> float:
    """max(0.1, numpy round(|part| / |object|, 1)); a part larger than its object -> 1.0."""
    if part > whole:
        return 1.0
    return max(0.1, float(np.round(part / whole, 1)))


def ref_erode(mask: np.ndarray, times: int) -> np.ndarray:
    """`times` erosions by a 3x3 square kernel; outside the image counts as inside."""
    current = mask.astype(bool)
    for _ in range(times):
        padded = np.pad(current, 1, constant_values=True)
        h, w = current.shape
        out = np.ones_like(current)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                out &= padded[dy:dy + h, dx:dx + w]
        current = out
    return current


def ref_click_region(mask: np.ndarray) -> np.ndarray:
    area = int(mask.sum())
    eroded = ref_erode(mask, math.ceil(0.1 * math.sqrt(area)))
    return eroded if eroded.any() else mask.astype(bool)


def ref_residual(whole: np.ndarray, part: np.ndarray) -> tuple[np.ndarray, float] | None:
    residual = whole & ~part
    share = float(np.round(residual.sum() / whole.sum(), 1))
    return (residual, max(0.1, share)) if share > 0.1 else None


# ---- generated masks --------------------------------------------------------------------


def random_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Blobs, boxes, lines and speckle; a third of them pushed against an image border."""
    kind = rng.integers(0, 4)
    ys, xs = np.mgrid[0:h, 0:w]
    if kind == 0:
        cy, cx = rng.uniform(-0.2, 1.2, 2) * (h, w)
        ry, rx = rng.uniform(0.1, 0.8, 2) * (h, w)
        mask = ((ys - cy) / ry) ** 2 + ((xs - cx) / rx) ** 2 < 1
    elif kind == 1:
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        mask = np.zeros((h, w), dtype=bool)
        mask[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = True
    elif kind == 2:
        mask = np.zeros((h, w), dtype=bool)
        mask[rng.integers(0, h), :] = True
        mask[:, rng.integers(0, w)] = rng.random() < 0.5
    else:
        mask = rng.random((h, w)) < rng.uniform(0.3, 0.95)
    if rng.random() < 0.33:  # touch a border for sure
        side = rng.integers(0, 4)
        index = (0, -1)[side % 2]
        if side < 2:
            mask[index, : w // 2] = True
        else:
            mask[: h // 2, index] = True
    if not mask.any():
        mask[rng.integers(0, h), rng.integers(0, w)] = True
    return mask


def _window(mask: np.ndarray):
    ys, xs = np.nonzero(mask)
    return ys.min(), ys.max() + 1, xs.min(), xs.max() + 1


# ---- rounding -----------------------------------------------------------------------------


def test_rounding_vectors_are_numpy_half_to_even():
    assert granularity("graco", [20, 3, 9, 13, 19]) == [1.0, 0.2, 0.4, 0.6, 1.0]
    assert round(3 / 20, 1) == 0.1  # why Python's round is not the reference


def test_scale_agrees_with_the_reference_on_every_area_pair():
    cases = [(part, whole) for whole in range(1, 121) for part in range(1, 2 * whole)]
    assert len(cases) > 10_000
    assert all(graco_scale(p, w) == ref_scale(p, w) for p, w in cases)


# ---- click region ------------------------------------------------------------------------


def test_click_region_agrees_with_square_kernel_border_preserving_erosion():
    rng = np.random.default_rng(0)
    touching, fallbacks = 0, 0
    for _ in range(3000):
        h, w = (int(v) for v in rng.integers(1, 48, 2))
        mask = random_mask(rng, h, w)
        y0, y1, x0, x1 = _window(mask)
        touching += y0 == 0 or x0 == 0 or y1 == h or x1 == w
        region, emptied = graco_click_region(mask[y0:y1, x0:x1], y0, x0, h, w, int(mask.sum()))
        ours = np.zeros_like(mask)
        ours[y0:y1, x0:x1] = region
        expected = ref_click_region(mask)
        assert (ours == expected).all()
        fallbacks += emptied
    assert touching > 1000 and 100 < fallbacks < 2900  # both branches exercised


def test_the_border_does_not_erode():
    mask = np.zeros((40, 40), dtype=bool)
    mask[0:20, 0:20] = True  # a box in the corner: k = 2
    region, emptied = graco_click_region(mask[0:20, 0:20], 0, 0, 40, 40, 400)
    assert not emptied and erosion_iterations(400) == 2
    assert region[0, 0] and region[17, 17] and not region[18, 0] and not region[0, 18]


# ---- windows of runs (what mining reads masks with) -------------------------------------


def test_windows_and_lookups_agree_with_pycocotools():
    rng = np.random.default_rng(1)
    for _ in range(1500):
        h, w = (int(v) for v in rng.integers(1, 70, 2))
        mask = random_mask(rng, h, w)
        rle = encode_array(mask)
        runs = RunMask(rle)
        assert run_lengths(rle["counts"]).sum() == h * w
        y0, y1 = sorted(int(v) for v in rng.integers(0, h + 1, 2))
        x0, x1 = sorted(int(v) for v in rng.integers(0, w + 1, 2))
        assert (runs.window(y0, y1, x0, x1) == mask[y0:y1, x0:x1]).all()
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        assert runs.contains(x, y) == mask[y, x]
        assert counts_string(run_lengths(rle["counts"])) == rle["counts"]  # byte for byte
        assert runs.to_rle() == rle
        if y1 > y0 and x1 > x0:
            placed = np.zeros_like(mask)
            placed[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
            assert encode_window(mask[y0:y1, x0:x1], h, w, y0, x0) == encode_array(placed, allow_empty=True)


# ---- whole trees: residuals, the part-larger-than-object rule, clicks ---------------------


def random_tree(rng: np.random.Generator, h: int = 40, w: int = 48):
    whole = random_mask(rng, h, w)
    if whole.sum() < 8:
        whole[: h // 2, : w // 2] = True
    forest = MaskForest(h, w)
    root = forest.add(encode_array(whole), None, "gt")
    parts = []
    for _ in range(int(rng.integers(1, 6))):
        part = whole & random_mask(rng, h, w)
        if rng.random() < 0.15:  # some parts reach outside their object
            part |= random_mask(rng, h, w) & ~whole
        if not part.any():
            continue
        forest.add(encode_array(part), root, "gt")
        parts.append(part)
    return forest, whole, parts


def test_residuals_and_scales_agree_with_the_reference_on_generated_trees():
    rng = np.random.default_rng(2)
    compared = residuals = 0
    for number in range(400):
        forest, whole, parts = random_tree(rng)
        result = mine_pairs(forest, f"img{number}", definition="graco", points=1, seed=0,
                            min_area=1, iou_merge=1.01)
        ids = result.forest.segment_ids(f"img{number}")
        kept = {ids[i]: decode(result.forest.nodes[i].rle).astype(bool)
                for i in range(len(result.forest.nodes))}
        got_residuals = {}
        for pair in result.pairs:
            mask = decode(pair["mask"]).astype(bool)
            x, y = (int(v) for v in pair["point"])
            assert ref_click_region(mask)[y, x]  # every click is in that mask's click region
            if pair["is_residual"]:
                got_residuals[pair["segment_id"]] = (mask, pair["granularity"])
                continue
            part = kept[pair["segment_id"]]
            if pair["level"] == 0:
                assert (mask == whole).all() and pair["granularity"] == 1.0
            else:
                assert (mask == part).all()
                assert pair["granularity"] == ref_scale(int(part.sum()), int(whole.sum()))
            compared += 1
        for segment_id, part in kept.items():
            if segment_id == ids[0]:
                continue
            expected = None if part.sum() > whole.sum() else ref_residual(whole, part)
            if expected is None:
                assert segment_id not in got_residuals
                continue
            mask, value = got_residuals[segment_id]
            assert (mask == expected[0]).all() and value == expected[1]
            residuals += 1
    assert compared > 1000 and residuals > 300


def test_a_part_larger_than_its_object_is_replaced_by_the_object():
    forest = MaskForest(30, 30)
    small = np.zeros((30, 30), dtype=bool)
    small[5:15, 5:15] = True
    large = np.zeros((30, 30), dtype=bool)
    large[4:20, 4:20] = True
    root = forest.add(encode_array(small), None, "sam")
    forest.add(encode_array(large), root, "sam")
    result = mine_pairs(forest, "img", definition="graco", points=2, seed=0, min_area=1,
                        iou_merge=1.01)
    assert result.counts["graco_part_replaced_by_object"] == 1
    assert len(result.pairs) == 4 and not any(p["is_residual"] for p in result.pairs)
    for pair in result.pairs:
        assert (decode(pair["mask"]).astype(bool) == small).all()
        assert pair["granularity"] == 1.0 and pair["level"] == 0
    assert len({p["pair_id"] for p in result.pairs}) == 4


@pytest.mark.parametrize("definition", ["unsamv2", "graco"])
def test_proposal_clicks_cover_every_mask(definition):
    rng = np.random.default_rng(3)
    forest, _, _ = random_tree(rng, 64, 64)
    result = mine_pairs(forest, "img", definition=definition, points=3, seed=0, min_area=1,
                        iou_merge=1.01)
    plain = [p for p in result.pairs if not p["is_residual"]]
    assert len(plain) == 3 * len(result.forest.nodes)
    if definition == "unsamv2":
        assert len(plain) == len(result.pairs)
