"""How well does each verifier catch wrong phrases? Errors planted into correct captions.

Synthetic scenes (ground-truth objects and parts) and the demo photos (superpixel masks, no
categories) are described by the template describer, whose phrases are true by construction.
Then, per error kind, phrases are swapped between masks, colour words changed, category words
changed, or a phrase for a region that is not there added. Reported per verifier and error kind:
precision and recall of `fail`, the share of correct phrases wrongly failed, and throughput.

    python benchmarks/bench_verify.py [--scenes 24] [--size 256] [--clip-model DIR]

Target (issue 17): `rules` catches >= 90% of colour and category errors with < 5% false fails.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def build(root: Path, scenes: int, size: int):
    from annotators.images import encode_png, image_row
    from annotators.synthetic import generate_scene
    from pipelines.engine.runner import run_stage
    from pipelines.ingest.demo_data import PHOTOS, _photo
    from pipelines.stages.describe import DescribeStage
    from pipelines.stages.mine import MineStage
    from pipelines.store.dataset_dir import DatasetDir
    from schemas.contract import table_from_rows

    synthetic, photos = DatasetDir(root / "synthetic"), DatasetDir(root / "photos")
    images, segments = [], []
    for seed in range(scenes):
        scene = generate_scene(seed, (size, size))
        row = image_row(encode_png(scene.pixels), f"scene{seed}.png", "synthetic")
        images.append(row)
        segments += scene.segment_rows(row["image_id"])
    _write(synthetic, {"images": images, "segments": segments}, table_from_rows)
    _write(photos, {"images": [image_row(encode_png(_photo(n)), f"{n}.png", "photos") for n in PHOTOS]},
           table_from_rows)
    run_stage(MineStage(), photos, progress=False)
    for dataset in (synthetic, photos):
        run_stage(DescribeStage(), dataset, progress=False)
    return synthetic, photos


def _write(dataset, tables, table_from_rows):
    for config, rows in tables.items():
        writer = dataset.shard_writer(config, "bench")
        writer.write(table_from_rows(config, rows))
        writer.close()
    dataset.finalize()


def load(dataset):
    from annotators.verify.evidence import ImageEvidence
    from pipelines.store.image_source import DatasetImages
    from pipelines.store.side_inputs import (
        SEGMENT_COLUMNS,
        image_pixels,
        read_config,
        rows_by_image,
    )
    from schemas.contract import column_names

    samples = read_config(dataset.path, "segcap", column_names("segcap")).to_pylist()
    ids = sorted({s["image_id"] for s in samples})
    segments = rows_by_image(dataset.path, "segments", SEGMENT_COLUMNS, ids)
    evidence = {r["image_id"]: ImageEvidence(r["image_id"], image_pixels(r, DatasetImages(dataset.path)),
                                             segments.get(r["image_id"], []))
                for r in read_config(dataset.path, "images", ["image_id", "image", "file_name"]).to_pylist()}
    vocabulary = sorted({s["category"] for g in segments.values() for s in g if s.get("category")})
    return samples, evidence, vocabulary


def measure(runner, samples, evidence, vocabulary, kinds, seed=0):
    from annotators.verify import planted

    rows = []
    started = time.perf_counter()
    clean = [e["verdict"] for r in runner.verify_samples(samples, evidence) for e in r[0]]
    seconds, phrases = time.perf_counter() - started, len(clean)  # verifying only, not planting
    rows.append(("none (correct)", None, None, clean.count("fail") / max(1, len(clean)), len(clean)))
    for kind in kinds:
        rng = np.random.default_rng(seed)
        tp = fn = fp = negatives = 0
        for sample in samples:
            result = planted.plant(kind, sample, evidence[sample["image_id"]], rng, vocabulary)
            if result is None:
                continue
            corrupted, wrong = result
            started = time.perf_counter()
            found = [e["verdict"] for e in runner.verify_samples([corrupted], evidence)[0][0]]
            seconds, phrases = seconds + time.perf_counter() - started, phrases + len(found)
            for index, verdict in enumerate(found):
                if index in wrong:
                    tp, fn = tp + (verdict == "fail"), fn + (verdict != "fail")
                else:
                    fp, negatives = fp + (verdict == "fail"), negatives + 1
        planted_n = tp + fn
        rows.append((kind, tp / max(1, tp + fp) if tp + fp else None,
                     tp / planted_n if planted_n else None, fp / max(1, negatives), planted_n))
    return rows, 1000 * seconds / max(1, phrases)


def fmt(value):
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--clip-model", default=None, help="a CLIP/SigLIP folder: also measure clip")
    args = parser.parse_args()
    from annotators.verify.planted import ERROR_KINDS
    from annotators.verify.runners import RulesRunner

    with tempfile.TemporaryDirectory() as tmp:
        synthetic, photos = build(Path(tmp), args.scenes, args.size)
        verifiers = [("rules", lambda vocab: RulesRunner(vocab, "bench"))]
        if args.clip_model:
            from annotators.verify.clip import ClipVerifier
            from annotators.verify.model_runners import ClipRunner

            clip = ClipVerifier(args.clip_model)
            verifiers.append(("clip", lambda vocab: ClipRunner(vocab, "bench", clip, 0.2, 0.0, {})))
        print(f"{'data':<10} {'verifier':<8} {'error':<15} {'precision':>9} {'recall':>7} "
              f"{'false fail':>10} {'n':>5}")
        for label, dataset, kinds in (("synthetic", synthetic, ERROR_KINDS),
                                      ("photos", photos, ("colour",))):
            samples, evidence, vocabulary = load(dataset)
            for name, make in verifiers:
                rows, ms = measure(make(vocabulary), samples, evidence, vocabulary, kinds)
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                for kind, precision, recall, false_fail, n in rows:
                    print(f"{label:<10} {name:<8} {kind:<15} {fmt(precision):>9} {fmt(recall):>7} "
                          f"{fmt(false_fail):>10} {n:>5}")
                print(f"{label:<10} {name:<8} throughput: {ms * 1000:.0f} ms per 1,000 phrases, "
                      f"process peak RSS so far {peak:.0f} MiB")


if __name__ == "__main__":
    main()
