"""The rules verifier against measured evidence: correct captions pass, planted errors fail."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from annotators.verify import planted
from annotators.verify.captions import grounded_phrases
from annotators.verify.coverage import caption_coverage
from annotators.verify.evidence import ImageEvidence
from annotators.verify.runners import RulesRunner
from pipelines.store.image_source import DatasetImages
from pipelines.store.side_inputs import SEGMENT_COLUMNS, image_pixels, read_config, rows_by_image
from schemas.contract import column_names


@pytest.fixture(scope="module")
def material(described):
    path = described.path
    samples = read_config(path, "segcap", column_names("segcap")).to_pylist()
    ids = sorted({s["image_id"] for s in samples})
    segments = rows_by_image(path, "segments", SEGMENT_COLUMNS, ids)
    evidence = {r["image_id"]: ImageEvidence(r["image_id"], image_pixels(r, DatasetImages(path)), segments[r["image_id"]])
                for r in read_config(path, "images", ["image_id", "image", "file_name"]).to_pylist()}
    vocabulary = sorted({s["category"] for group in segments.values() for s in group} | {"robot", "house"})
    return samples, evidence, RulesRunner(vocabulary, "2026-01-01T00:00:00+00:00")


def verdicts(runner, sample, evidence):
    entries, _ = runner.verify_samples([sample], evidence)[0]
    return [e["verdict"] for e in entries], [e["reason"] for e in entries]


def test_correct_template_captions_pass(material):
    samples, evidence, runner = material
    checked = 0
    for sample in samples:
        found, reasons = verdicts(runner, sample, evidence)
        assert "fail" not in found, (sample["conversations"][1]["value"], reasons)
        checked += len(found)
    assert checked >= 20


@pytest.mark.parametrize("kind", planted.ERROR_KINDS)
def test_planted_errors_fail(material, kind):
    samples, evidence, runner = material
    rng = np.random.default_rng(0)
    planted_count = 0
    for sample in samples:
        result = planted.plant(kind, sample, evidence[sample["image_id"]], rng, runner.vocabulary)
        if result is None:
            continue
        corrupted, wrong = result
        found, reasons = verdicts(runner, corrupted, evidence)
        for index in wrong:
            assert found[index] == "fail", (kind, corrupted["conversations"][1]["value"], reasons[index])
        untouched = [v for i, v in enumerate(found) if i not in wrong]
        assert "fail" not in untouched, (kind, reasons)
        planted_count += 1
    assert planted_count >= 2, f"no sample offered a place for a {kind} error"


def test_wrong_position_and_empty_mask_fail(material):
    samples, evidence, runner = material
    sample = next(s for s in samples if "at the left" in s["conversations"][1]["value"])
    moved = planted._with_answer(sample, sample["conversations"][1]["value"].replace(
        "at the left", "at the right", 1))
    found, reasons = verdicts(runner, moved, evidence)
    index = next(p.index for p in grounded_phrases(moved) if "right" in p.context)
    assert found[index] == "fail" and "position" in reasons[index]
    emptied = dict(sample, masks=[dict(m) for m in sample["masks"]])
    height, width = evidence[sample["image_id"]].shape
    from schemas.masks import encode_array
    emptied["masks"][0] = encode_array(np.zeros((height, width), bool), allow_empty=True)
    found, reasons = verdicts(runner, emptied, evidence)
    assert found[0] == "fail" and "empty" in reasons[0]


def test_unverifiable_phrase_is_unsure(material):
    samples, evidence, runner = material
    sample = samples[0]
    vague = planted._with_answer(sample, "The image shows <p> something </p> [SEG].")
    vague.update(masks=sample["masks"][:1], mask_labels=["something"], segment_ids=[None])
    found, reasons = verdicts(runner, vague, evidence)
    assert found == ["unsure"], reasons


def test_coverage_lists_the_instance_a_caption_leaves_out(material):
    samples, evidence, _ = material
    sample = next(s for s in samples if s["granularity"] == "root" and len(s["masks"]) >= 2)
    image = evidence[sample["image_id"]]
    full = caption_coverage(sample, image)
    assert full["instance_share"] == 1.0 and full["uncovered"] == []
    partial = dict(sample, masks=sample["masks"][1:], segment_ids=sample["segment_ids"][1:])
    less = caption_coverage(partial, image)
    assert less["instance_share"] < 1.0
    assert sample["segment_ids"][0] in less["uncovered"]
    assert less["image_share"] < full["image_share"]


def test_scene_counts_are_checked_against_instances(described):
    rows = pq.read_table(sorted((described.path / "descriptions").glob("*.parquet"))[0]).to_pylist()
    scene = next(r for r in rows if r["scope"] == "scene")
    path = described.path
    segments = rows_by_image(path, "segments", SEGMENT_COLUMNS, [scene["image_id"]])[scene["image_id"]]
    images = read_config(path, "images", ["image_id", "image", "file_name"]).to_pylist()
    row = next(r for r in images if r["image_id"] == scene["image_id"])
    image = {scene["image_id"]: ImageEvidence(scene["image_id"], image_pixels(row, DatasetImages(path)), segments)}
    runner = RulesRunner(sorted({s["category"] for s in segments}), "t")
    right = runner.description_verdict(scene, image, {})
    assert right.verdict == "pass", right.reason
    counts = {}
    for s in segments:
        if s["level"] == 0:
            counts[s["category"]] = counts.get(s["category"], 0) + 1
    category, n = next(iter(counts.items()))
    wrong_text = f"A scene showing {n + 1} {category}s."
    wrong = runner.description_verdict(dict(scene, short=wrong_text, detailed=wrong_text), image, {})
    assert wrong.verdict == "fail" and "count" in wrong.reason
