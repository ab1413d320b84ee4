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
)
from pipelines.dedup import DedupStage
from pipelines.runner import run_stage


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


def test_semantic_duplicates_match_brute_force_on_planted_twins():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 32)).astype(np.float32)
    twins = rng.choice(400, 40, replace=False)
    planted = vectors[twins] + rng.normal(0, 0.02, size=(40, 32)).astype(np.float32)
    everything = np.concatenate([vectors, planted])
    everything /= np.linalg.norm(everything, axis=1, keepdims=True)
    found = semantic_duplicates(everything, eps=0.05, clusters=8)
    exact = brute_force_duplicates(everything, eps=0.05)
    assert found[400:].tolist() == twins.tolist()  # every planted copy points at its original
    assert (found[:400] == -1).all()
    assert np.array_equal(found, exact)


def test_dedup_stage_marks_planted_duplicates(instructions_dir, helpers, tmp_path):
    rows = instructions_dir.read("instructions").to_pylist()
    by_id = {r["sample_id"]: r for r in rows}
    copy_image = helpers.reencoded(instructions_dir, by_id["s02"]["image_id"])
    helpers.add_rows(instructions_dir, "images", [copy_image])
    paraphrase = [("human", "<image>\nCompare the two cups; which one is larger?"),
                  ("gpt", "The left cup is larger than the right one.")]
    helpers.add_rows(instructions_dir, "instructions", [
        {**by_id["s01"], "sample_id": "s99"},  # exact copy
        {**by_id["s02"], "sample_id": "s98", "image_id": copy_image["image_id"]},  # re-encoded image
        helpers.instruction("s97", by_id["s00"]["image_id"], paraphrase),  # paraphrase of s02
    ])
    stage = DedupStage(embedding_cache=str(tmp_path / "cache"))
    stats = run_stage(stage, instructions_dir, progress=False)
    result = {r["sample_id"]: r for r in instructions_dir.read("instructions").to_pylist()}
    assert result["s99"]["duplicate_of"] == "s01" and result["s99"]["duplicate_reason"] == "exact"
    assert result["s98"]["duplicate_of"] == "s02" and result["s98"]["duplicate_reason"] == "near_image"
    assert result["s97"]["duplicate_of"] == "s02" and result["s97"]["duplicate_reason"] == "semantic"
    originals = [r for k, r in result.items() if k not in ("s97", "s98", "s99")]
    assert len(originals) == 8 and all(r["duplicate_of"] is None for r in originals)
    assert stats.rows_out == 11
