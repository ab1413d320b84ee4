"""Fixtures of the verify tests: synthetic scenes described by the template describer."""

from __future__ import annotations

import pytest

from annotators.images import encode_png, image_row
from annotators.synthetic import generate_scene
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import table_from_rows

SIZE = (128, 128)


def rewrite_segcap(dataset: DatasetDir, rows: list[dict]) -> None:
    """Replace the describe step's segcap shards with `rows` (a test's edited captions)."""
    dataset.remove_shards("segcap", "describe")
    writer = dataset.shard_writer("segcap", "describe")
    writer.write(table_from_rows("segcap", rows))
    writer.close()
    dataset.finalize()


def plant_pink(dataset: DatasetDir) -> str:
    """Make the first sample's first phrase say "pink" (a colour its region lacks); its id."""
    rows = dataset.read("segcap").to_pylist()
    answer = rows[0]["conversations"][1]
    answer["value"] = answer["value"].replace("<p> ", "<p> pink ", 1)
    rewrite_segcap(dataset, rows)
    return rows[0]["sample_id"]


def described_dataset(root, seeds=(0, 1, 2)) -> DatasetDir:
    """images + segments of synthetic scenes, then the template describe stage."""
    from pipelines.engine.runner import run_stage
    from pipelines.stages.describe import DescribeStage

    dataset = DatasetDir(root)
    images, segments = [], []
    for seed in seeds:
        scene = generate_scene(seed, SIZE)
        row = image_row(encode_png(scene.pixels), f"scene{seed}.png", "synthetic")
        images.append(row)
        segments += scene.segment_rows(row["image_id"])
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
