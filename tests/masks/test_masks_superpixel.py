"""The weight-free superpixel hierarchy: nesting, determinism, real photos, degenerate images."""

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from annotators.masks.evaluation import hierarchical_recall, nesting_violations
from annotators.masks.superpixel import SuperpixelSource
from annotators.synthetic import generate_scene
from schemas.masks import decode_many, encode_array


def _strictly_nested(forest) -> bool:
    masks = decode_many([n.rle for n in forest.nodes]).astype(bool)
    for index, node in enumerate(forest.nodes):
        assert masks[index].sum() == node.area
        if node.parent is not None and (masks[index] & ~masks[node.parent]).any():
            return False
    return True


def test_synthetic_forest_nests_exactly_and_finds_parts():
    scene = generate_scene(1, size=(192, 192))
    forest = SuperpixelSource().build(scene.pixels)
    assert nesting_violations(forest, threshold=1.0) == []
    assert _strictly_nested(forest)
    gt = [(encode_array(n.mask), n.level) for n in scene.nodes()]
    recall = hierarchical_recall(gt, [n.rle for n in forest.nodes])
    assert recall["overall"]["recall@0.5"] >= 0.6


def test_same_image_same_forest():
    pixels = generate_scene(5, size=(128, 128)).pixels
    first, second = SuperpixelSource().build(pixels), SuperpixelSource().build(pixels)
    assert [n.rle for n in first.nodes] == [n.rle for n in second.nodes]
    assert [n.parent for n in first.nodes] == [n.parent for n in second.nodes]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_real_photos_give_nontrivial_hierarchies(name):
    image = getattr(data, name)()[..., :3]
    pixels = (resize(image, (200, 200 * image.shape[1] // image.shape[0]), anti_aliasing=True)
              * 255).astype(np.uint8)
    forest = SuperpixelSource().build(pixels)
    assert len(forest.roots()) >= 4
    assert forest.depth() >= 3
    assert nesting_violations(forest, threshold=1.0) == []
    assert all(n.bbox[2] > 0 and n.bbox[3] > 0 for n in forest.nodes)


def test_tiny_and_uniform_images_do_not_crash():
    assert SuperpixelSource().build(np.zeros((1, 1, 3), dtype=np.uint8)).nodes == []
    flat = SuperpixelSource().build(np.full((40, 40, 3), 90, dtype=np.uint8))
    assert nesting_violations(flat) == []
    thin = SuperpixelSource().build(np.random.default_rng(0).integers(0, 255, (1, 300, 3), dtype=np.uint8))
    assert nesting_violations(thin) == []
