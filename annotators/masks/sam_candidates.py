"""SAM's automatic mask generation after the mask decoder, on the model's device.

What SAM's own generator does, in the order that keeps the cost linear in the candidate count:
1. each batch of point prompts gives low-resolution logits (b, 3, 256, 256); the predicted-IoU and
   stability filters, a first (estimated) minimum area and the boxes are computed on those logits,
   on the device; a candidate that survives keeps only its score, box and a small down-sampled
   mask for nesting (nest_size^2 values), never its logits;
2. greedy box NMS over all candidates on the device (torchvision is not a dependency, so the
   IoU matrix and the greedy sweep are written here in torch);
3. the prompts of the survivors go through the mask decoder again (cheap next to the image
   encoder, and it keeps memory bounded by the batch size whatever the candidate count); only
   those masks are up-sampled to the image, checked for the exact minimum area and RLE-encoded;
4. nesting by containment: a matrix product of the down-sampled masks proposes each mask's
   tightest holders, and only the chosen parent is confirmed on the full-resolution RLEs.
`decode(point_indices)` is the model: it returns low-res logits (b, m, h, w) and predicted IoUs
(b, m) on the device. The benchmark feeds fixed synthetic logits through the same function.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as coco_mask

from annotators.masks.forest import MaskForest

Decode = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Geometry:
    """Where the image sits in the model's input frame, and how low-res logits map back to it.

    SAM resizes the longest side to the input size and pads bottom/right (valid < input);
    SAM 2 resizes to the full square (valid == input, no padding)."""

    height: int
    width: int
    input_size: tuple[int, int]
    valid_size: tuple[int, int]
    two_step: bool = True  # SAM: up to the input frame, crop, then to the image; SAM 2: direct

    def valid_lowres(self, low_h: int, low_w: int) -> tuple[int, int]:
        return (max(1, math.ceil(self.valid_size[0] * low_h / self.input_size[0])),
                max(1, math.ceil(self.valid_size[1] * low_w / self.input_size[1])))


@dataclass(frozen=True)
class Thresholds:
    pred_iou: float
    stability: float
    stability_offset: float
    mask_threshold: float
    nms_iou: float
    min_area: int
    containment: float


def count_true(binary: torch.Tensor) -> torch.Tensor:
    """Per-mask pixel counts of an (n, ...) bool tensor, on its device. On the CPU torch sums
    bools through an int64 conversion (~5 ns a pixel); numpy's count_nonzero is ~10x faster."""
    flat = binary.flatten(1)
    if flat.device.type != "cpu":
        return flat.sum(1)
    return torch.from_numpy(np.count_nonzero(flat.numpy(), axis=1))


def stability_scores(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """SAM's stability: #(logits > t + offset) / #(logits > t - offset); 0 for an empty mask."""
    high = count_true(logits > threshold + offset).float()
    low = count_true(logits > threshold - offset).float()
    return torch.where(low > 0, high / low.clamp(min=1), torch.zeros_like(low))


def mask_boxes(binary: torch.Tensor) -> torch.Tensor:
    """(n, h, w) bool -> (n, 4) float [x0, y0, x1, y1) boxes; an empty mask gets a zero box."""
    n, h, w = binary.shape
    rows = binary.any(2)
    cols = binary.any(1)
    y0 = rows.float().argmax(1)
    y1 = h - rows.flip(1).float().argmax(1)
    x0 = cols.float().argmax(1)
    x1 = w - cols.flip(1).float().argmax(1)
    boxes = torch.stack([x0, y0, x1, y1], 1).float()
    return torch.where(rows.any(1)[:, None], boxes, torch.zeros_like(boxes))


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(2)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-6)


def box_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float,
            device_sweeps: int = 64) -> torch.Tensor:
    """Greedy NMS (best score first), exactly torchvision's result; returns kept indices by score.

    Greedy NMS is the fixed point of keep[i] = no kept higher-scored box overlaps i. Sweeping that
    rule from keep = all reaches it in (longest suppression chain + 1) matrix-vector products on
    the device; if a pathological chain outlasts `device_sweeps`, the greedy loop finishes on the
    host from the same matrix (same answer, only slower)."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True)
    over = box_iou(boxes[order], boxes[order]) > iou_threshold
    over = torch.triu(over, diagonal=1).float()  # over[j, i]: higher-ranked j suppresses i
    keep = torch.ones(len(order), device=boxes.device)
    for _ in range(device_sweeps):
        updated = ((keep @ over) == 0).float()
        if torch.equal(updated, keep):
            return order[keep.bool()]
        keep = updated
    suppress = over.bool().cpu().numpy()
    kept = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if kept[i]:
            kept[i + 1:] &= ~suppress[i, i + 1:]
    return order[torch.from_numpy(kept).to(boxes.device)]


def axis_weights(source: int, target: int) -> np.ndarray:
    """(target, source) matrix of 1-D linear interpolation exactly as torch's bilinear
    (align_corners=False, no antialias): src = (dst + 0.5) * source / target - 0.5, clamped at 0."""
    position = np.maximum((np.arange(target) + 0.5) * (source / target) - 0.5, 0.0)
    low = np.minimum(position.astype(np.int64), source - 1)
    high = np.minimum(low + 1, source - 1)
    frac = position - low
    weights = np.zeros((target, source))
    np.add.at(weights, (np.arange(target), low), 1 - frac)
    np.add.at(weights, (np.arange(target), high), frac)
    return weights


class Upsampler:
    """Low-res logits -> full-resolution masks, computed only inside each mask's box.

    Bilinear resizing is separable, so the processors' resize chain (SAM: to the input frame,
    crop to the valid part, to the image; SAM 2: straight to the image) is one matrix per axis,
    `Wy (H, h)` and `Wx (W, w)`, and a mask is `Wy @ logits @ Wx.T`. The weights are convex, so a
    pixel whose sources all lie outside the low-res box (logits <= threshold) stays background:
    computing rows/columns that read the box is exact and costs box area, not image area."""

    def __init__(self, geometry: Geometry, low_h: int, low_w: int, device):
        g = geometry
        ys = axis_weights(low_h, g.input_size[0])[:g.valid_size[0]] if g.two_step else None
        xs = axis_weights(low_w, g.input_size[1])[:g.valid_size[1]] if g.two_step else None
        wy = axis_weights(g.valid_size[0], g.height) @ ys if g.two_step else axis_weights(low_h, g.height)
        wx = axis_weights(g.valid_size[1], g.width) @ xs if g.two_step else axis_weights(low_w, g.width)
        self.geometry = g
        self.wy = torch.as_tensor(wy, dtype=torch.float32, device=device)
        self.wx = torch.as_tensor(wx, dtype=torch.float32, device=device)
        self.rows_of, self.cols_of = _reach(wy), _reach(wx)   # source -> (first, last) target
        self.src_rows, self.src_cols = _support(wy), _support(wx)  # target -> (first, last) source
        self.read_h, self.read_w = int(self.src_rows[1].max()) + 1, int(self.src_cols[1].max()) + 1

    def mask(self, logits: torch.Tensor, box: np.ndarray, threshold: float):
        """One (h, w) logit map and its low-res box [x0, y0, x1, y1) -> (crop bool (on host),
        top row, left column) of the full-resolution mask; None for an empty box."""
        x0, y0, x1, y1 = (int(v) for v in box)
        if x1 <= x0 or y1 <= y0:
            return None
        r0, r1 = int(self.rows_of[0][y0]), int(self.rows_of[1][y1 - 1]) + 1
        c0, c1 = int(self.cols_of[0][x0]), int(self.cols_of[1][x1 - 1]) + 1
        s0, s1 = int(self.src_rows[0][r0]), int(self.src_rows[1][r1 - 1]) + 1
        t0, t1 = int(self.src_cols[0][c0]), int(self.src_cols[1][c1 - 1]) + 1
        crop = self.wy[r0:r1, s0:s1] @ logits[s0:s1, t0:t1].float() @ self.wx[c0:c1, t0:t1].T
        return (crop > threshold).cpu().numpy(), r0, c0


@contextmanager
def one_cpu_thread(device):
    """The per-mask products are small: on the CPU one thread beats a thread pool, whose workers
    spin while waiting (measured: 8 ms instead of 0.4 ms a mask on a busy 2-core machine)."""
    if torch.device(device).type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _reach(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nonzero = weights > 0
    first = np.where(nonzero.any(0), nonzero.argmax(0), weights.shape[0])
    last = np.where(nonzero.any(0), weights.shape[0] - 1 - nonzero[::-1].argmax(0), -1)
    # a source never read reaches nothing: give it the neighbouring reach so ranges stay monotone
    return np.maximum.accumulate(np.minimum(first, weights.shape[0] - 1)), np.maximum.accumulate(last)


def _support(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nonzero = weights > 0
    return nonzero.argmax(1), weights.shape[1] - 1 - nonzero[:, ::-1].argmax(1)


def crop_rle(crop: np.ndarray, top: int, left: int, height: int, width: int) -> tuple[dict, int]:
    """A mask given as a crop at (top, left) -> (compressed RLE of the whole image, area).

    Hand-written run lengths (numpy) because pycocotools only encodes whole arrays: the runs of
    the crop's columns, in the image's column-major order, with the rows above/below and the
    columns left/right of the crop as background; pycocotools then compresses the counts."""
    h, w = crop.shape
    strip = np.zeros((w, height), dtype=np.uint8)  # one row per image column (column-major order)
    strip[:, top:top + h] = crop.T
    flat = strip.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds)
    if flat[0]:
        counts = np.concatenate([[0], counts])
    counts[0] += left * height
    trailing = (width - left - w) * height
    if trailing:
        if flat[-1]:
            counts = np.concatenate([counts, [trailing]])
        else:
            counts[-1] += trailing
    rle = coco_mask.frPyObjects({"size": [height, width], "counts": counts.tolist()}, height, width)
    return ({"size": [height, width], "counts": rle["counts"].decode("ascii")},
            int(counts[1::2].sum()))


def upsample(logits: torch.Tensor, geometry: Geometry, threshold: float) -> torch.Tensor:
    """(n, h, w) low-res logits -> (n, H, W) bool over the whole image, the processors' way
    (torch interpolate); the reference the box-restricted `Upsampler` is tested against."""
    x = logits[:, None].float()
    if geometry.two_step:
        x = F.interpolate(x, geometry.input_size, mode="bilinear", align_corners=False)
        x = x[..., :geometry.valid_size[0], :geometry.valid_size[1]]
    x = F.interpolate(x, (geometry.height, geometry.width), mode="bilinear", align_corners=False)
    return x[:, 0] > threshold


class CandidatePool:
    """Step 1: filter each decoder batch on the device and keep only what NMS and nesting need."""

    def __init__(self, geometry: Geometry, thresholds: Thresholds, nest_size: int):
        self.geometry = geometry
        self.t = thresholds
        self.nest_size = nest_size
        self.drops: Counter = Counter()
        self._ids: list[torch.Tensor] = []
        self._scores: list[torch.Tensor] = []
        self._boxes: list[torch.Tensor] = []
        self._nest: list[torch.Tensor] = []

    def add(self, ids: torch.Tensor, logits: torch.Tensor, iou: torch.Tensor) -> None:
        """ids (n,), logits (n, h, w) low-res, iou (n,) predicted IoU; all on the device."""
        t, g = self.t, self.geometry
        valid_h, valid_w = g.valid_lowres(*logits.shape[-2:])
        # As SAM's generator: a threshold of 0 turns a filter off (predicted IoUs can be < 0)
        passing = iou >= t.pred_iou if t.pred_iou > 0 else torch.ones_like(iou, dtype=torch.bool)
        self.drops["sam_pred_iou"] += int((~passing).sum())
        logits = logits[passing][:, :valid_h, :valid_w]
        ids, iou = ids[passing], iou[passing]
        stable = (stability_scores(logits, t.mask_threshold, t.stability_offset) >= t.stability
                  if t.stability > 0 else torch.ones(len(ids), dtype=torch.bool, device=ids.device))
        self.drops["sam_stability"] += int((~stable).sum())
        logits, ids, iou = logits[stable], ids[stable], iou[stable]
        binary = logits > t.mask_threshold
        # Estimated area: a low-res pixel stands for this many image pixels. Only clearly small
        # masks go here (half the minimum); the exact check runs on the up-sampled survivors.
        pixel = (g.height * g.width) / (valid_h * valid_w)
        large = count_true(binary).float() * pixel >= max(t.min_area, 1) / 2
        self.drops["sam_min_area"] += int((~large).sum())
        binary, ids, iou = binary[large], ids[large], iou[large]
        if len(ids) == 0:
            return
        scale = torch.tensor([g.width / valid_w, g.height / valid_h] * 2, device=binary.device)
        self._boxes.append(mask_boxes(binary) * scale)
        self._nest.append(F.adaptive_avg_pool2d(binary[:, None].float(),
                                                self.nest_size)[:, 0].flatten(1).half())
        self._ids.append(ids)
        self._scores.append(iou.float())

    def select(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step 2: box NMS; returns kept (ids, scores, nest masks), best score first."""
        if not self._ids:
            empty = torch.zeros(0)
            return empty.long(), empty, empty
        ids, scores = torch.cat(self._ids), torch.cat(self._scores)
        kept = box_nms(torch.cat(self._boxes), scores, self.t.nms_iou)
        self.drops["sam_nms"] += len(ids) - len(kept)
        return ids[kept], scores[kept], torch.cat(self._nest)[kept]


def generate(decode: Decode, n_points: int, points_per_batch: int, geometry: Geometry,
             thresholds: Thresholds, source: str, nest_size: int = 64,
             upsample_batch: int = 16) -> MaskForest:
    """Prompts 0..n_points-1 through `decode` -> a nested forest; every dropped candidate counted."""
    pool = CandidatePool(geometry, thresholds, nest_size)
    per_prompt = 1
    for start in range(0, n_points, points_per_batch):
        prompts = np.arange(start, min(start + points_per_batch, n_points))
        logits, iou = decode(prompts)
        per_prompt = logits.shape[1]
        ids = torch.arange(start * per_prompt, (start + len(prompts)) * per_prompt, device=logits.device)
        pool.add(ids, logits.flatten(0, 1), iou.flatten())
    ids, scores, nest = pool.select()
    rles, areas, kept_scores, kept_nest = _encode_survivors(
        decode, ids, scores, nest, per_prompt, points_per_batch, geometry, thresholds, pool.drops,
        upsample_batch)
    forest = nest_forest(rles, areas, kept_scores, kept_nest, source, geometry, thresholds.containment)
    forest.drops.update(pool.drops)
    return forest


def _encode_survivors(decode, ids, scores, nest, per_prompt, points_per_batch, geometry,
                      thresholds, drops, upsample_batch):
    """Step 3: the survivors' prompts decoded again; each mask up-sampled inside its box only."""
    rles: list[dict] = []
    areas: list[int] = []
    kept_scores: list[float] = []
    kept_rows: list[int] = []
    upsampler = None
    ids_host = ids.cpu().numpy()
    scores_host = scores.cpu().numpy()
    prompts = np.unique(ids_host // per_prompt)
    min_area = max(thresholds.min_area, 1)
    for start in range(0, len(prompts), points_per_batch):
        batch = prompts[start:start + points_per_batch]
        logits, _ = decode(batch)
        row_of = {int(p): r for r, p in enumerate(batch)}
        wanted = np.nonzero(np.isin(ids_host // per_prompt, batch))[0]
        for chunk_start in range(0, len(wanted), upsample_batch):
            chunk = wanted[chunk_start:chunk_start + upsample_batch]
            rows = torch.tensor([row_of[int(ids_host[k] // per_prompt)] for k in chunk])
            masks = torch.tensor([int(ids_host[k] % per_prompt) for k in chunk])
            selected = logits[rows.to(logits.device), masks.to(logits.device)]
            if upsampler is None:
                upsampler = Upsampler(geometry, *selected.shape[-2:], selected.device)
            read = selected[:, :upsampler.read_h, :upsampler.read_w] > thresholds.mask_threshold
            boxes = mask_boxes(read).cpu().numpy()
            for k, logit_map, box in zip(chunk, selected, boxes, strict=True):
                with one_cpu_thread(logit_map.device):
                    result = upsampler.mask(logit_map, box, thresholds.mask_threshold)
                rle, area = (None, 0) if result is None else crop_rle(*result, geometry.height,
                                                                        geometry.width)
                if area < min_area:
                    drops["sam_min_area"] += 1
                    continue
                rles.append(rle)
                areas.append(area)
                kept_scores.append(float(scores_host[k]))
                kept_rows.append(int(k))
    nest_rows = nest[torch.as_tensor(kept_rows, dtype=torch.long, device=nest.device)]
    return rles, np.asarray(areas, dtype=np.int64), kept_scores, nest_rows


def nest_forest(rles: list[dict], areas: np.ndarray, scores: list[float], nest: torch.Tensor,
                source: str, geometry: Geometry, threshold: float, margin: float = 0.15,
                tries: int = 3, row_chunk: int = 1024) -> MaskForest:
    """Step 4: each mask's parent is the smallest larger mask holding >= `threshold` of it.

    The down-sampled masks' matrix product estimates every containment share at once; the
    `tries` tightest holders within `margin` of the threshold are checked on the exact RLEs, in
    order, and the first that holds the mask is its parent. An estimated holder that fails every
    check leaves the mask a root, counted as `sam_parent_unconfirmed`."""
    forest = MaskForest(geometry.height, geometry.width)
    if not rles:
        return forest
    order = np.argsort(-areas, kind="stable")
    fractions = nest[torch.from_numpy(order).to(nest.device)].float()
    mass = fractions.sum(1).clamp(min=1e-6)
    columns = torch.arange(len(order), device=fractions.device)
    candidates = []
    for start in range(0, len(order), row_chunk):
        share = fractions[start:start + row_chunk] @ fractions.T / mass[start:start + row_chunk, None]
        rows = columns[start:start + row_chunk, None]
        holder = (share >= threshold - margin) & (columns[None, :] < rows)
        ranked = torch.where(holder, columns[None, :].expand_as(holder), torch.full_like(holder, -1, dtype=torch.long))
        candidates.append(ranked.topk(min(tries, len(order)), dim=1).values.cpu())
    candidates_host = torch.cat(candidates).numpy()
    parent_rank = np.full(len(order), -1)
    unconfirmed = 0
    for rank, original in enumerate(order):
        tried = [int(c) for c in candidates_host[rank] if c >= 0]
        for candidate in tried:
            held = coco_mask.iou([rles[original]], [rles[order[candidate]]], [1])[0, 0]
            if held >= threshold:
                parent_rank[rank] = candidate
                break
        else:
            unconfirmed += bool(tried)
    for rank, original in enumerate(order):
        parent = None if parent_rank[rank] < 0 else int(parent_rank[rank])
        forest.add(rles[original], parent, source, score=scores[original], area=int(areas[original]))
    if unconfirmed:
        forest.drops["sam_parent_unconfirmed"] += unconfirmed
    return forest
