"""Dedup: planted exact, near-image and semantic duplicates are found; originals are kept."""

from __future__ import annotations

import numpy as np
from skimage import data as skdata

from annotators.selection.dedup import (
    brute_force_duplicates,
    dct_hash,
    exact_duplicates,
    near_duplicate_images,
    semantic_duplicates,
    spherical_kmeans,
)
from pipelines.engine.runner import run_stage
from pipelines.stages.dedup import DedupStage


def hamming(a, b):
    return int(np.unpackbits(a ^ b).sum())


def test_dct_hash_survives_resizing_and_noise_but_separates_photos():
    from skimage.transform import resize

    astronaut = skdata.astronaut()
    smaller = (resize(astronaut, (200, 200), anti_aliasing=True) * 255).astype(np.uint8)
    noisy = np.clip(astronaut + np.random.default_rng(0).normal(0, 4, astronaut.shape), 0, 255)
    base = dct_hash(astronaut)
    assert hamming(base, dct_hash(smaller)) <= 4
    assert hamming(base, dct_hash(noisy.astype(np.uint8))) <= 4
    assert hamming(base, dct_hash(skdata.coffee())) > 16


def test_near_duplicate_images_keep_the_earliest():
    photos = [skdata.astronaut(), skdata.coffee(), skdata.astronaut()[::2, ::2], skdata.chelsea()]
    original = near_duplicate_images(np.stack([dct_hash(p) for p in photos]), max_bits=6)
    assert original.tolist() == [-1, -1, 0, -1]


def test_exact_duplicates_point_at_first_occurrence():
    assert exact_duplicates(["a", "b", "a", "c", "b", "a"]).tolist() == [-1, -1, 0, -1, 1, 0]


def planted(n=400, copies=40, d=32, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, d)).astype(np.float32)
    twins = rng.choice(n, copies, replace=False)
    copy = vectors[twins] + rng.normal(0, 0.02, size=(copies, d)).astype(np.float32)
    everything = np.concatenate([vectors, copy])
    return everything / np.linalg.norm(everything, axis=1, keepdims=True), twins


def reference_removed(vectors, assignment, distance, eps):
    """SemDeDup's keep rule as its code writes it: per cluster, members sorted by distance to the
    centroid descending (keep_hard), similarity matrix, upper triangle, column max > 1 - eps."""
    removed = np.zeros(len(vectors), bool)
    for cluster in np.unique(assignment):
        members = np.flatnonzero(assignment == cluster)
        members = members[np.argsort(-distance[members], kind="stable")]
        similarity = np.triu(vectors[members] @ vectors[members].T, k=1)
        removed[members[similarity.max(axis=0) > 1 - eps]] = True
    return removed


def test_semdedup_removes_what_the_reference_removes_and_keeps_the_hardest():
    vectors, twins = planted()
    found = semantic_duplicates(vectors, eps=0.05, clusters=8)
    assignment, distance = spherical_kmeans(vectors, 8)
    assert np.array_equal(found >= 0, reference_removed(vectors, assignment, distance, 0.05))
    for original, copy in zip(twins, range(400, 440), strict=True):
        kept, dropped = (original, copy) if distance[original] >= distance[copy] else (copy, original)
        assert found[kept] == -1 and found[dropped] == kept  # the hardest of the pair stays
    assert (found >= 0).sum() == 40


def test_semdedup_keep_rules_and_groups():
    vectors, twins = planted()
    hardest = semantic_duplicates(vectors, eps=0.05, clusters=8)
    easiest = semantic_duplicates(vectors, eps=0.05, clusters=8, keep="easiest")
    random = semantic_duplicates(vectors, eps=0.05, clusters=8, keep="random", seed=3)
    assert (hardest >= 0).sum() == (easiest >= 0).sum() == (random >= 0).sum() == 40
    assert np.array_equal((hardest >= 0) | (easiest >= 0), np.isin(np.arange(440), np.r_[twins, 400:440]))
    assert not np.array_equal(hardest >= 0, easiest >= 0)  # the other member of each pair stays
    # each copy on another image than its original: nothing is a duplicate any more
    groups = np.r_[np.zeros(400, np.int64), np.ones(40, np.int64)]
    assert (semantic_duplicates(vectors, eps=0.05, clusters=8, groups=groups) == -1).all()


def test_one_cluster_in_item_order_is_the_brute_force_rule():
    vectors, _ = planted(n=200, copies=20)
    exact = brute_force_duplicates(vectors, eps=0.05)
    assert (exact >= 0).sum() == 20


def test_dedup_stage_marks_planted_duplicates(instructions_dir, helpers, tmp_path):
    rows = instructions_dir.read("instructions").to_pylist()
    by_id = {r["sample_id"]: r for r in rows}
    copy_image = helpers.reencoded(instructions_dir, by_id["s02"]["image_id"])
    helpers.add_rows(instructions_dir, "images", [copy_image])
    paraphrase = [("human", "<image>\nCompare the two cups; which one is larger?"),
                  ("gpt", "The left cup is larger than the right one.")]
    same_text = [(t["from"], t["value"]) for t in by_id["s03"]["conversations"]]
    helpers.add_rows(instructions_dir, "instructions", [
        {**by_id["s01"], "sample_id": "s99"},  # exact copy
        {**by_id["s02"], "sample_id": "s98", "image_id": copy_image["image_id"]},  # re-encoded image
        helpers.instruction("s97", by_id["s02"]["image_id"], paraphrase),  # paraphrase of s02
        helpers.instruction("s96", by_id["s00"]["image_id"], paraphrase),  # ... on another image
        helpers.instruction("s95", by_id["s00"]["image_id"], same_text),  # s03's text, other image
    ])
    stage = DedupStage(embedding_cache=str(tmp_path / "cache"))
    stats = run_stage(stage, instructions_dir, progress=False)
    result = {r["sample_id"]: r for r in instructions_dir.read("instructions").to_pylist()}
    assert result["s99"]["duplicate_of"] == "s01" and result["s99"]["duplicate_reason"] == "exact"
    assert result["s98"]["duplicate_of"] == "s02" and result["s98"]["duplicate_reason"] == "near_image"
    # SemDeDup keeps the hardest of the pair (farther from the centroid): either may stay
    pair = {"s02": result["s02"]["duplicate_of"], "s97": result["s97"]["duplicate_of"]}
    assert pair in ({"s02": None, "s97": "s02"}, {"s02": "s97", "s97": None})
    dropped = "s97" if pair["s97"] else "s02"
    assert result[dropped]["duplicate_reason"] == "semantic"
    # same text on a different image is not a duplicate
    assert result["s96"]["duplicate_of"] is None and result["s95"]["duplicate_of"] is None
    originals = [r for k, r in result.items() if k not in (dropped, "s98", "s99")]
    assert len(originals) == 10 and all(r["duplicate_of"] is None for r in originals)
    assert stats.rows_out == 13
