"""MOTChallenge variants as they ship: MOT15, MOT17 with detector copies, DanceTrack, SportsMOT."""

from __future__ import annotations

import numpy as np
import pytest
from conformance_fixtures import mot_sequence, rejects, rows, run
from pycocotools import mask as coco

from pipelines.ingest.base import IngestError

# TUD-Stadtmitte style: conf 1, then world x, y, z. Columns 8-10 are NOT a class and visibility.
MOT15_GT = ("1,1,10,4,8,20,1,4.4852,10.051,0\n"
            "1,2,30,6,9,22,1,-1,-1,-1\n"
            "2,1,11,4,8,20,1,4.6,10.2,0\n"
            "2,2,31,6,9,22,1,12.0,3.0,0\n")
# MOT17: conf flag, class (1 person, 3 car, 7 static person, 12 reflection), visibility.
MOT17_GT = ("1,1,2,2,10,12,1,1,0.9\n"
            "1,2,20,10,12,8,0,3,1.0\n"
            "1,3,35,1,5,9,0,12,0.25\n"
            "2,1,3,2,10,12,1,1,0.8\n"
            "2,4,25,20,6,6,0,7,0.5\n")


def test_mot15_has_no_class_column(tmp_path):
    mot_sequence(tmp_path / "train", "TUD-Stadtmitte", MOT15_GT, seed=1)
    stats, ds = run("mot", tmp_path / "train", None, tmp_path / "out")
    segments = sorted(rows(ds, "segments"), key=lambda s: s["segment_id"])
    assert {s["category"] for s in segments} == {"person"}  # never "bicycle"/"occluder_on_ground"
    assert sorted((s["track_id"], s["bbox"][0]) for s in segments) == [
        (1, 10.0), (1, 11.0), (2, 30.0), (2, 31.0)]
    assert stats.counters["mot_variant.MOT15"] == 1
    assert rejects(ds) == []


def test_mot15_default_class_is_an_option(tmp_path):
    mot_sequence(tmp_path / "train", "TUD-Stadtmitte", MOT15_GT, seed=1)
    _, ds = run("mot", tmp_path / "train", None, tmp_path / "out", mot_default_class="pedestrian")
    assert {s["category"] for s in rows(ds, "segments")} == {"pedestrian"}


def test_mot17_detector_copies_are_one_sequence(tmp_path):
    train = tmp_path / "train"
    for detector in ("DPM", "FRCNN", "SDP"):  # identical frames and gt, as in the MOT17 release
        mot_sequence(train, f"MOT17-02-{detector}", MOT17_GT, seed=2)
    mot_sequence(train, "MOT17-04-SDP", "1,7,5,5,10,10,1,1,1.0\n", frames=1, seed=4)
    stats, ds = run("mot", train, None, tmp_path / "out")
    images = sorted((r["video_id"], r["frame_index"]) for r in rows(ds, "images"))
    assert images == [("MOT17-02", 1), ("MOT17-02", 2), ("MOT17-04", 1)]
    segments = rows(ds, "segments")
    per_frame = {}
    for s in segments:
        per_frame.setdefault(s["image_id"], []).append(s["track_id"])
    assert sorted(len(v) for v in per_frame.values()) == [1, 2, 3]  # not 3x the boxes
    assert all(len(set(v)) == len(v) for v in per_frame.values())
    assert sorted((s["track_id"], s["category"], s["score"]) for s in segments) == [
        (1, "person", 1.0), (1, "person", 1.0), (2, "car", 0.0), (3, "reflection", 0.0),
        (4, "static_person", 0.0), (7, "person", 1.0)]
    assert rejects(ds) == [("duplicate_sequence", "sequence MOT17-02-FRCNN"),
                           ("duplicate_sequence", "sequence MOT17-02-SDP")]
    raw = " ".join(r["raw"] for r in rows(ds, "rejects"))
    assert "ingested MOT17-02-DPM as MOT17-02" in raw and "same gt" in raw
    assert stats.counters["mot_variant.MOT17"] == 2
    assert stats.counters["mot_skipped_detector_copies"] == 2
    car = next(s for s in segments if s["category"] == "car")
    expected = np.zeros((32, 48), dtype=np.uint8)
    expected[10:18, 20:32] = 1
    assert np.array_equal(coco.decode(car["mask"]), expected)


def test_dancetrack_and_sportsmot_layouts(tmp_path):
    root = tmp_path / "data"
    mot_sequence(root, "dancetrack0001", "1,1,1,1,10,10,1,1,1\n1,2,20,1,10,10,1,1,1\n", frames=1, seed=5)
    mot_sequence(root, "v_-6Os86HzwCs_c001", "1,1,2,2,8,8,1,1,1\n", frames=1, seed=6)
    stats, ds = run("mot", root, None, tmp_path / "out")
    assert stats.counters["mot_variant.DanceTrack"] == 1
    assert stats.counters["mot_variant.SportsMOT"] == 1
    assert sorted((r["video_id"], r["frame_index"]) for r in rows(ds, "images")) == [
        ("dancetrack0001", 1), ("v_-6Os86HzwCs_c001", 1)]
    assert sorted((s["track_id"], s["category"]) for s in rows(ds, "segments")) == [
        (1, "person"), (1, "person"), (2, "person")]


def test_track_id_twice_in_one_frame_is_a_reject(tmp_path):
    mot_sequence(tmp_path / "seqs", "MOT20-01", "1,1,1,1,5,5,1,1,1\n1,1,9,9,5,5,1,1,1\n", frames=1)
    _, ds = run("mot", tmp_path / "seqs", None, tmp_path / "out")
    (segment,) = rows(ds, "segments")
    assert segment["bbox"][0] == 1.0  # the first box is kept
    assert rejects(ds) == [("duplicate_id", "MOT20-01/gt/gt.txt:2")]


def test_sequence_without_seqinfo_and_test_split_without_gt(tmp_path):
    mot_sequence(tmp_path / "seqs", "PETS09-S2L1", None, frames=2, seqinfo=False, seed=9)
    stats, ds = run("mot", tmp_path / "seqs", None, tmp_path / "out")
    assert sorted((r["video_id"], r["frame_index"], r["source_id"]) for r in rows(ds, "images")) == [
        ("PETS09-S2L1", 1, "PETS09-S2L1:1"), ("PETS09-S2L1", 2, "PETS09-S2L1:2")]
    assert stats.counters["mot_variant.no-gt"] == 1 and not rows(ds, "segments")


def test_unknown_columns_fail_naming_the_file(tmp_path):
    mot_sequence(tmp_path / "seqs", "odd", "1,1,1,1,5,5,1,4.4852,0.3\n", frames=1)
    with pytest.raises(IngestError, match=r"odd/gt/gt.txt: columns 8-9 are neither"):
        run("mot", tmp_path / "seqs", None, tmp_path / "out")
