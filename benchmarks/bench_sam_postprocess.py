"""SAM post-processing, old (host, all-pairs) vs new (device, box NMS, survivors only), side by side.

The same fixed synthetic candidate sets go through both: smooth low-resolution logits
(256x256 for a 1024x1024 image, three nested masks per prompt, many prompts landing on the same
objects so NMS has duplicates to remove), N = 300, 1,000, 3,000 candidates. The "model" is a
function that computes a prompt's logits on demand (deterministic per prompt); its time is
measured and subtracted, so the figures are post-processing only.
- old: a frozen copy of the pre-issue-14 path (every candidate up-sampled on the host, stability at
  full resolution, every candidate RLE-encoded, all-pairs mask NMS, all-pairs containment);
- new: `annotators.masks.sam_candidates.generate` on the same device as the logits.
Prints seconds, growth exponents, peak memory (RSS growth on CPU, allocator peak on GPU), masks
kept, and agreement: kept masks IoU-matched (>= 0.9) and parent links of matched masks.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sam_postprocess.py [--sizes 300,1000,3000] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import threading
import time
from collections import Counter

import numpy as np
import psutil
import torch
import torch.nn.functional as F
from pycocotools import mask as coco_mask

from annotators.masks.forest import MaskForest
from annotators.masks.sam_candidates import Geometry, Thresholds, generate
from schemas import masks as codec

SIDE, LOW = 1024, 256
THRESHOLDS = Thresholds(pred_iou=0.88, stability=0.95, stability_offset=1.0, mask_threshold=0.0,
                        nms_iou=0.7, min_area=100, containment=0.9)


class SyntheticDecoder:
    """Prompt p -> three nested smooth ellipses (whole / part / subpart) on one of the objects."""

    def __init__(self, n_prompts: int, device: str, seed: int = 0):
        rng = np.random.default_rng(seed)
        objects = max(4, n_prompts // 8)
        self.centres = rng.uniform(30, LOW - 30, (objects, 2))
        self.radii = rng.uniform(12, 60, (objects, 2))
        self.part_offsets = rng.uniform(-0.35, 0.35, (objects, 2))
        self.n_objects = objects
        self.device = device
        self.seed = seed
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.grid = torch.arange(LOW, dtype=torch.float32, device=device) + 0.5

    def __call__(self, prompts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        started, cpu_started = time.perf_counter(), time.process_time()
        logits, ious = [], []
        for p in prompts:
            rng = np.random.default_rng((self.seed, int(p)))
            o = int(p) % self.n_objects
            jitter = rng.normal(0, 0.6, 2)
            centre, radii = self.centres[o] + jitter, self.radii[o] * rng.uniform(0.97, 1.03, 2)
            masks = []
            for level, shrink in enumerate((1.0, 0.5, 0.25)):
                c = centre + self.part_offsets[o] * radii * (level > 0)
                r = radii * shrink
                dx = ((self.grid - c[0]) / r[0]).square()
                dy = ((self.grid - c[1]) / r[1]).square()
                d = (dy[:, None] + dx[None, :]).sqrt_()
                sharpness = float(rng.uniform(60, 200))
                masks.append(sharpness * (1 - d))
            logits.append(torch.stack(masks))
            ious.append(torch.as_tensor(rng.uniform(0.8, 1.0, 3), dtype=torch.float32))
        out = torch.stack(logits), torch.stack(ious).to(self.device)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - started
        self.cpu_seconds += time.process_time() - cpu_started
        return out


# ---- frozen copy of the old path (annotators/masks/sam.py + forest.py before issue 14) ----------

def old_stability_scores(logits, threshold, offset):
    high = (logits > threshold + offset).flatten(1).sum(1).float()
    low = (logits > threshold - offset).flatten(1).sum(1).float()
    return np.where(low.numpy() > 0, (high / low.clamp(min=1)).numpy(), 0.0)


def old_mask_nms(rles, scores, iou_threshold):
    order = np.argsort(-np.asarray(scores), kind="stable")
    ious = codec.iou([rles[i] for i in order], [rles[i] for i in order])
    kept = []
    for rank in range(len(order)):
        if all(ious[rank, other] < iou_threshold for other in kept):
            kept.append(rank)
    return [int(order[rank]) for rank in kept]


def old_nest_by_containment(rles, source, height, width, scores, threshold):
    areas = np.array([codec.area(r) for r in rles], dtype=np.int64)
    order = np.argsort(-areas, kind="stable")
    ordered = [rles[i] for i in order]
    inside = (np.asarray(coco_mask.iou(ordered, ordered, [1] * len(ordered)), dtype=np.float64)
              if ordered else np.zeros((0, 0)))
    forest = MaskForest(height, width)
    for rank, original in enumerate(order):
        holders = [j for j in range(rank) if inside[rank, j] >= threshold and areas[order[j]] > 0]
        parent = max(holders) if holders else None
        forest.add(rles[original], parent, source, score=scores[original], area=int(areas[original]))
    return forest


def old_post_process_masks(low_res):
    """What SamProcessor.post_process_masks did for a square 1024 image (pad = reshaped = 1024)."""
    up = F.interpolate(low_res[:, None], (SIDE, SIDE), mode="bilinear", align_corners=False)
    return F.interpolate(up, (SIDE, SIDE), mode="bilinear", align_corners=False)[:, 0]


def old_generate(decode, n_points, points_per_batch, t: Thresholds) -> MaskForest:
    rles, scores, drops = [], [], Counter()
    for start in range(0, n_points, points_per_batch):
        logits, iou = decode(np.arange(start, min(start + points_per_batch, n_points)))
        iou = iou.flatten().cpu()
        low_res = logits.flatten(0, 1).cpu()
        passing = torch.nonzero(iou >= t.pred_iou).flatten()
        drops["sam_pred_iou"] += len(iou) - len(passing)
        if len(passing) == 0:
            continue
        up = old_post_process_masks(low_res[passing])
        stable = old_stability_scores(up, t.mask_threshold, t.stability_offset)
        keep = stable >= t.stability
        drops["sam_stability"] += int((~keep).sum())
        if not keep.any():
            continue
        binary = (up[torch.from_numpy(keep)] > t.mask_threshold).numpy()
        large = binary.reshape(len(binary), -1).sum(1) >= max(t.min_area, 1)
        drops["sam_min_area"] += int((~large).sum())
        if large.any():
            rles.extend(codec.encode_stack(binary[large]))
            scores.extend(iou[passing][torch.from_numpy(keep)][torch.from_numpy(large)].tolist())
    kept = old_mask_nms(rles, scores, t.nms_iou) if rles else []
    drops["sam_nms"] += len(rles) - len(kept)
    kept.sort()
    forest = old_nest_by_containment([rles[i] for i in kept], "sam", SIDE, SIDE,
                                     [scores[i] for i in kept], t.containment)
    forest.drops.update(drops)
    return forest


# ---- measurement ---------------------------------------------------------------------------------

class PeakMemory:
    """Peak memory during a block: allocator peak on CUDA, sampled RSS growth on the host."""

    def __init__(self, device: str):
        self.device = device
        self.peak_mb = 0.0

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return self
        self._process = psutil.Process()
        self._base = self._process.memory_info().rss
        self._peak = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._base) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = (self._peak - self._base) / 2**20


def agreement(old: MaskForest, new: MaskForest) -> tuple[float, float, float]:
    """(share of old masks matched in new, share of new matched in old, parent links agreeing)."""
    if not old.nodes or not new.nodes:
        return float(old.nodes == new.nodes), float(old.nodes == new.nodes), 1.0
    ious = codec.iou([n.rle for n in old.nodes], [n.rle for n in new.nodes])
    old_to_new = np.where(ious.max(1) >= 0.9, ious.argmax(1), -1)
    new_matched = float((ious.max(0) >= 0.9).mean())
    same_parent = []
    for i, node in enumerate(old.nodes):
        j = old_to_new[i]
        if j < 0:
            continue
        new_parent = new.nodes[j].parent
        expected = None if node.parent is None else old_to_new[node.parent]
        same_parent.append(new_parent == expected if expected != -1 else False)
    return float((old_to_new >= 0).mean()), new_matched, float(np.mean(same_parent) if same_parent else 1)


def run(path: str, n: int, device: str, points_per_batch: int) -> tuple[float, float, float, MaskForest]:
    """(wall s, CPU s of this process, peak MB, forest), the synthetic model's own time excluded.
    CPU seconds are the steadier figure on a shared machine (wall time includes waiting)."""
    prompts = math.ceil(n / 3)
    decoder = SyntheticDecoder(prompts, device)
    geometry = Geometry(SIDE, SIDE, (SIDE, SIDE), (SIDE, SIDE))
    with PeakMemory(device) as memory:
        started, cpu_started = time.perf_counter(), time.process_time()
        if path == "old":
            forest = old_generate(decoder, prompts, points_per_batch, THRESHOLDS)
        else:
            forest = generate(decoder, prompts, points_per_batch, geometry, THRESHOLDS, "sam")
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        wall = time.perf_counter() - started - decoder.seconds
        cpu = time.process_time() - cpu_started - decoder.cpu_seconds
    return wall, cpu, memory.peak_mb, forest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,1000,3000")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--points-per-batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: CPU seconds are then real work, not spinning)")
    parser.add_argument("--skip-old-above", type=int, default=10_000,
                        help="the old path is quadratic: skip it for larger N")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"device {args.device}, image {SIDE}x{SIDE}, low-res {LOW}x{LOW}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'N':>6} {'old wall':>9} {'new wall':>9} {'old cpu':>8} {'new cpu':>8} {'speed-up':>9} "
          f"{'old MB':>7} {'new MB':>7} {'old kept':>8} {'new kept':>8} {'old->new':>8} "
          f"{'new->old':>8} {'parents':>7}")
    times: dict[str, list[float]] = {"old": [], "new": []}
    for n in sizes:
        run("new", min(n, 60), args.device, args.points_per_batch)  # warm-up (kernels, allocator)
        new_wall, new_cpu, new_mb, new_forest = run("new", n, args.device, args.points_per_batch)
        times["new"].append(new_cpu if args.device == "cpu" else new_wall)
        if n <= args.skip_old_above:
            old_wall, old_cpu, old_mb, old_forest = run("old", n, "cpu", args.points_per_batch)
            times["old"].append(old_cpu)
            ratio = old_cpu / new_cpu if args.device == "cpu" else old_wall / new_wall
            matched_old, matched_new, parents = agreement(old_forest, new_forest)
            print(f"{n:>6} {old_wall:>9.3f} {new_wall:>9.3f} {old_cpu:>8.3f} {new_cpu:>8.3f} "
                  f"{ratio:>8.1f}x {old_mb:>7.0f} {new_mb:>7.0f} {len(old_forest.nodes):>8} "
                  f"{len(new_forest.nodes):>8} {matched_old:>8.3f} {matched_new:>8.3f} {parents:>7.3f}")
        else:
            print(f"{n:>6} {'-':>9} {new_wall:>9.3f} {'-':>8} {new_cpu:>8.3f} {'-':>9} {'-':>7} "
                  f"{new_mb:>7.0f} {'-':>8} {len(new_forest.nodes):>8}")
        print(f"       new drops: {dict(sorted(new_forest.drops.items()))}", flush=True)
    basis = "CPU seconds" if args.device == "cpu" else "wall seconds (new), CPU seconds (old)"
    for path, values in times.items():
        if len(values) >= 2:
            last = sizes[len(values) - 1]
            exponent = math.log(values[-1] / values[0]) / math.log(last / sizes[0])
            print(f"growth exponent {path}: {exponent:.2f} (time ~ N^k over N {sizes[0]}..{last}, {basis})")
    print("speed-up: old/new CPU seconds on cpu, wall seconds on a GPU; agreement: share of kept "
          "masks with an IoU >= 0.9 match, and of matched masks whose parent matches")

if __name__ == "__main__":
    main()
