"""Fixtures of the language tests: a tiny random-weight LLaVA and small synthetic datasets."""

from __future__ import annotations

import numpy as np
import pytest

from annotators.images import encode_png, image_row
from annotators.synthetic import generate_scene
from pipelines.store.dataset_dir import DatasetDir
from schemas.contract import table_from_rows

SCENE_SIZE = (96, 96)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from annotators.backends.tiny_model import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava") / "model")


def scene_segments(scene, image_id: str) -> list[dict]:
    return scene.segment_rows(image_id)


@pytest.fixture
def synthetic_dataset(tmp_path):
    """A dataset directory with `images` + `segments` of seeded synthetic scenes; returns
    (DatasetDir, {image_id: scene})."""

    def make(seeds=(0, 1, 2), name="data"):
        dataset = DatasetDir(tmp_path / name)
        images, segments, scenes = [], [], {}
        for seed in seeds:
            scene = generate_scene(seed, SCENE_SIZE)
            row = image_row(encode_png(scene.pixels), f"scene{seed}.png", "synthetic")
            images.append(row)
            segments += scene_segments(scene, row["image_id"])
            scenes[row["image_id"]] = scene
        for config, rows in (("images", images), ("segments", segments)):
            writer = dataset.shard_writer(config, "fixture")
            writer.write(table_from_rows(config, rows))
            writer.close()
        dataset.finalize()
        return dataset, scenes

    return make


def write_mot_sequence(root, name: str, frames: int = 6, size=(64, 96), camera_shift: int = 0):
    """A MOTChallenge sequence: a red box walking right (track 1), a blue box standing still
    (track 2), on a textured background that shifts by `camera_shift` pixels per frame."""
    height, width = size
    sequence = root / name
    (sequence / "img1").mkdir(parents=True)
    (sequence / "gt").mkdir()
    (sequence / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={frames}\n"
        f"imWidth={width}\nimHeight={height}\nimExt=.png\n")
    rng = np.random.default_rng(sum(map(ord, name)))  # distinct videos never share a frame
    background = rng.integers(60, 200, size=(height, width * 2, 3), dtype=np.uint8)
    lines = []
    for frame in range(1, frames + 1):
        offset = (frame - 1) * camera_shift
        pixels = background[:, offset:offset + width].copy()
        x_red = 5 + (frame - 1) * 8
        pixels[20:50, x_red:x_red + 12] = (210, 30, 30)
        pixels[10:40, 70:84] = (30, 60, 210)
        encoded = encode_png(pixels)
        (sequence / "img1" / f"{frame:06d}.png").write_bytes(encoded)
        lines.append(f"{frame},1,{x_red},20,12,30,1,1,1.0")
        lines.append(f"{frame},2,70,10,14,30,1,1,1.0")
    (sequence / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    return sequence
