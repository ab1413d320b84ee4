"""Fixtures of the verify tests: synthetic scenes described by the template describer."""

from __future__ import annotations

import pytest

from annotators.images import encode_png, image_row
from annotators.synthetic import generate_scene
from pipelines.dataset_dir import DatasetDir
from schemas.contract import table_from_rows
from schemas.masks import area, bbox, encode_array

SIZE = (128, 128)


def scene_segments(scene, image_id: str) -> list[dict]:
    rows = []
    for node in scene.nodes():
        rle = encode_array(node.mask)
        rows.append({
            "segment_id": f"{image_id}-{node.node_id}", "image_id": image_id,
            "parent_id": f"{image_id}-{node.parent.node_id}" if node.parent else None,
            "level": node.level, "mask": rle, "bbox": bbox(rle), "area": area(rle),
            "category": node.name, "mask_source": "gt", "score": None, "track_id": None,
        })
    return rows


def described_dataset(root, seeds=(0, 1, 2)) -> DatasetDir:
    """images + segments of synthetic scenes, then the template describe stage."""
    from pipelines.describe import DescribeStage
    from pipelines.runner import run_stage

    dataset = DatasetDir(root)
    images, segments = [], []
    for seed in seeds:
        scene = generate_scene(seed, SIZE)
        row = image_row(encode_png(scene.pixels), f"scene{seed}.png", "synthetic")
        images.append(row)
        segments += scene_segments(scene, row["image_id"])
    for config, rows in (("images", images), ("segments", segments)):
        writer = dataset.shard_writer(config, "fixture")
        writer.write(table_from_rows(config, rows))
        writer.close()
    dataset.finalize()
    run_stage(DescribeStage(), dataset, progress=False)
    return dataset


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    return described_dataset(tmp_path_factory.mktemp("verify") / "data")
