"""LG-MOT: person attributes from box evidence, and `segcap export --format lgmot` read back the
way LG-MOT's loaders read it (tensor indexed by track id, 128 values; scene (1, D) expanded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from annotators.backends.tiny_model import build_tiny_clip
from annotators.describe.video import person_attributes
from flows.cli import app
from pipelines.exports.lgmot import instance_sentence, scene_sentence

from .conftest import write_mot_sequence

runner = CliRunner()


def _frame(height=80, width=40, top=(200, 30, 30), bottom=(15, 15, 15)) -> np.ndarray:
    pixels = np.full((height, width, 3), 128, dtype=np.uint8)
    pixels[:40] = top
    pixels[40:] = bottom
    return pixels


def test_person_attributes_name_dominant_clothing_colours_and_never_guess_gender():
    frames = {"f1": _frame(), "f2": _frame()}
    boxes = [{"image_id": i, "bbox": [0, 0, 40, 80]} for i in frames]
    attributes = {a["name"]: a["value"] for a in person_attributes(boxes, frames)}
    assert attributes == {"gender": "unknown", "shirt_color": "red", "pants_color": "black"}
    rng = np.random.default_rng(0)
    noisy = {"n": rng.integers(0, 256, size=(80, 40, 3), dtype=np.uint8)}  # no colour dominates
    attributes = {a["name"]: a["value"] for a in person_attributes([{"image_id": "n", "bbox": [0, 0, 40, 80]}],
                                                                    noisy)}
    assert attributes["shirt_color"] == attributes["pants_color"] == "unknown"
    tiny = {a["name"]: a["value"] for a in person_attributes([{"image_id": "f1", "bbox": [0, 0, 4, 8]}], frames)}
    assert tiny["shirt_color"] == "unknown"  # too few pixels to say


def test_sentences_follow_lg_mot_templates_and_leave_unknowns_out():
    assert instance_sentence({"category": "person", "gender": "male", "shirt_color": "red",
                              "pants_color": "black"}) == "A male person wearing red shirt and black pants."
    assert instance_sentence({"category": "pedestrian", "gender": "unknown", "shirt_color": "unknown",
                              "pants_color": "blue"}) == "A person wearing blue pants."
    assert instance_sentence({"category": "car", "colors": "orange, grey"}) == "An orange car."
    assert scene_sentence({"camera_motion": "static", "viewpoint": "medium", "weather": "sunny"}) == \
        "A scene captured by static camera from medium viewpoint on sunny day."
    assert scene_sentence({"camera_motion": "moving", "viewpoint": "unknown"}) == "A scene captured by moving camera."


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "model", projection_dim=256)


def reference_embeddings(model_dir: Path, texts: list[str]) -> torch.Tensor:
    """CLIP text features computed directly with transformers' CLIPModel (not our encoder)."""
    from transformers import CLIPModel, CLIPTokenizer

    model, tokenizer = CLIPModel.from_pretrained(model_dir).eval(), CLIPTokenizer.from_pretrained(model_dir)
    with torch.no_grad():
        output = model.get_text_features(**tokenizer(texts, padding=True, return_tensors="pt"))
    return getattr(output, "pooler_output", output)


def test_lgmot_export_is_read_by_track_id_like_lg_mot(tmp_path: Path, tiny_clip: Path):
    source = tmp_path / "mot"
    write_mot_sequence(source, "MOT17-02-SDP", frames=4)
    write_mot_sequence(source, "dance-01", frames=4, camera_shift=6)
    work = tmp_path / "ds"
    for args in (("ingest", "--format", "mot", "--source", source, "--out", work), ("describe", work)):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    out = tmp_path / "lgmot"
    result = runner.invoke(app, ["export", str(work), "--format", "lgmot", "--text-model", str(tiny_clip),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "export (lgmot)" in result.output and "2 sequences" in result.output
    # MOT17's detector copies are one sequence at ingest, named without the detector suffix
    for seq, source_seq in (("MOT17-02", "MOT17-02-SDP"), ("dance-01", "dance-01")):
        folder = out / seq
        # LG-MOT's loaders: torch.load, then emb[track_id] per gt box; the scene expanded per edge.
        instances = torch.load(folder / "gt/instance_language_prompts/seq_inst_prompts_embeddings_128.pt",
                               weights_only=True)
        scene = torch.load(folder / f"processed_data/embeddings/{seq}_prompt_embedding_all.pt",
                           weights_only=True).to(torch.float32)
        gt_ids = {int(line.split(",")[1]) for line in (source / source_seq / "gt/gt.txt").read_text().splitlines()}
        assert instances.shape == (max(gt_ids) + 1, 128) and scene.shape == (1, 256)
        assert scene.expand(5, -1).shape == (5, 256)
        texts = json.loads((folder / "gt/instance_language_prompts/language_prompts.json").read_text())
        assert set(texts["instances"]) == {str(i) for i in gt_ids} and not texts["tracks_without_description"]
        assert texts["instances"]["1"]["text"] == "A person wearing red shirt and red pants."
        assert texts["instances"]["2"]["text"] == "A person wearing blue shirt and blue pants."
        camera = "moving" if seq == "dance-01" else "static"
        assert texts["scene"]["text"] == f"A scene captured by {camera} camera."
        expected = reference_embeddings(tiny_clip, [texts["scene"]["text"]] +
                                        [texts["instances"][str(i)]["text"] for i in sorted(gt_ids)])
        assert torch.allclose(scene[0], expected[0], atol=1e-5)
        pooled = torch.nn.AdaptiveAvgPool1d(128)(expected[1:][:, None, :])[:, 0, :]
        for k, track_id in enumerate(sorted(gt_ids)):
            assert torch.allclose(instances[track_id], pooled[k], atol=1e-5)
        assert torch.count_nonzero(instances[0]) == 0  # no track 0 in MOT: a zero row
    stats = json.loads((out / "stats.json").read_text())
    assert stats["outputs"] == {"sequences": 2, "track_embeddings": 4}


def test_lgmot_export_errors_are_one_line(tmp_path: Path, tiny_clip: Path):
    source = tmp_path / "mot"
    write_mot_sequence(source, "seq-a", frames=2)
    work = tmp_path / "ds"
    assert runner.invoke(app, ["ingest", "--format", "mot", "--source", str(source), "--out", str(work)]).exit_code == 0
    no_model = runner.invoke(app, ["export", str(work), "--format", "lgmot", "--out", str(tmp_path / "o")])
    assert no_model.exit_code == 2 and "--text-model" in no_model.output
    undescribed = runner.invoke(app, ["export", str(work), "--format", "lgmot", "--text-model", str(tiny_clip),
                                      "--out", str(tmp_path / "o")])
    assert undescribed.exit_code == 2 and "Traceback" not in undescribed.output
    assert runner.invoke(app, ["describe", str(work)]).exit_code == 0
    bad_model = runner.invoke(app, ["export", str(work), "--format", "lgmot", "--text-model",
                                    str(tmp_path / "no-such-model"), "--out", str(tmp_path / "o")])
    assert bad_model.exit_code == 1 and "cannot load a CLIP text model" in " ".join(bad_model.output.split())
    assert not (tmp_path / "o").exists()
