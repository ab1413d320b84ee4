"""The `unsamv2` hierarchy source: UnSAMv2's divide and conquer (REFERENCE.md sections 1 and 5).

Divide: detections (the superpixel forest's masks, SAM's masks with score > 0.3, or ground
truth) filtered by the instance rule (> 5% of the image, not > 80% inside another detection);
detections > 80% inside an instance are its parts.
Conquer, per instance: the instance's box is resized (longer side `local_size`, sides multiples
of the patch size) and cut into patches; patch features are merged greedily, the most similar
adjacent clusters first, down the thresholds 0.9 .. 0.5; after each threshold the clusters of at
least `min_cluster` patches are one layer of masks. A mask is kept when > 90% of it lies inside
its instance; windowed NMS (IoU 0.8, next 4 in area order) runs on the conquer masks, then with
the instance protected on conquer masks + divide parts. The survivors nest by containment.

Features: a DINO-family model loaded with transformers (`feature_model`: local folder or hub
id; cosine similarity of mean patch tokens, as the reference), or, without one, colour/texture
features (Lab mean, lightness spread, gradient per patch; similarity exp(-d^2 / 2 scale^2)), our
weight-free stand-in. Which one ran is `features.name` ("colour" or "model:<id>"), which the
stage counts in its stats.
"""

from __future__ import annotations

import heapq
from collections import Counter

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask
from skimage.color import rgb2lab
from skimage.filters import sobel

from annotators.masks.forest import MaskForest
from annotators.masks.rle_window import RunMask, encode_window
from annotators.masks.superpixel import _upscale, superpixels
from annotators.masks.unsamv2_rules import divide, inside_matrix, protected_nms, windowed_nms
from schemas.options.masks import SuperpixelOptions, UnsamV2Options

NAME = "unsamv2"


def local_grid(crop: np.ndarray, local_size: int, patch: int) -> np.ndarray:
    """The crop resized as the reference does: longer side `local_size`, both sides rounded up
    to a multiple of the patch size."""
    h, w = crop.shape[:2]
    if w >= h:
        new_w, new_h = local_size, max(1, int(h * local_size / w))
    else:
        new_h, new_w = local_size, max(1, int(w * local_size / h))
    new_w, new_h = -(-new_w // patch) * patch, -(-new_h // patch) * patch
    return np.asarray(Image.fromarray(crop).resize((new_w, new_h), Image.Resampling.BICUBIC))


class ColourFeatures:
    """Per patch: Lab mean, lightness standard deviation, mean gradient (texture)."""

    name = "colour"

    def __init__(self, patch: int, scale: float):
        self.patch, self.scale = patch, scale

    def __call__(self, image: np.ndarray) -> np.ndarray:
        # Colour and texture are pooled over whole patches, so they are computed on 4x4
        # sub-cells of each patch (RGB means first): Lab conversions and gradients on 16 values
        # per patch instead of patch^2.
        sub = max(1, self.patch // 4)
        p = self.patch // sub
        h, w = (image.shape[0] // sub) * sub, (image.shape[1] // sub) * sub
        image = image[:h, :w].reshape(h // sub, sub, w // sub, sub, 3).mean(axis=(1, 3)) / 255.0
        lab = rgb2lab(image)
        gradient = sobel(lab[..., 0])
        gh, gw = image.shape[0] // p, image.shape[1] // p

        def pooled(channel: np.ndarray) -> np.ndarray:
            return channel[:gh * p, :gw * p].reshape(gh, p, gw, p).mean(axis=(1, 3))

        lightness = lab[..., 0]
        spread = np.sqrt(np.maximum(pooled(lightness ** 2) - pooled(lightness) ** 2, 0))
        return np.stack([pooled(lab[..., 0]), pooled(lab[..., 1]), pooled(lab[..., 2]), spread,
                         pooled(gradient)], axis=-1)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-np.sum((a - b) ** 2, axis=-1) / (2 * self.scale ** 2))


class ModelFeatures:
    """Patch tokens of a DINO-family model (transformers AutoModel; trust_remote_code off)."""

    def __init__(self, model: str, device: str = "cpu"):
        import torch
        from transformers import AutoImageProcessor, AutoModel

        from annotators.model_loading import load_failure, resolve_model

        torch.set_grad_enabled(False)
        target = resolve_model(model, kind="feature model")  # fails in seconds, in one line
        try:
            self.processor = AutoImageProcessor.from_pretrained(target)
            self.model = AutoModel.from_pretrained(target).to(device).eval()
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            raise load_failure(model, exc) from None
        self.device = device
        self.name = f"model:{model}"
        self.patch = int(self.model.config.patch_size)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        import torch

        mean = np.asarray(getattr(self.processor, "image_mean", [0.485, 0.456, 0.406]))
        std = np.asarray(getattr(self.processor, "image_std", [0.229, 0.224, 0.225]))
        # The processor's normalisation, but not its resize/crop: the grid must match the crop.
        pixels = (image.astype(np.float32) / 255.0 - mean) / std
        tensor = torch.from_numpy(pixels.transpose(2, 0, 1)[None].astype(np.float32)).to(self.device)
        tokens = self.model(pixel_values=tensor).last_hidden_state[0]
        gh, gw = image.shape[0] // self.patch, image.shape[1] // self.patch
        return tokens[-gh * gw:].float().cpu().numpy().reshape(gh, gw, -1)  # patch tokens come last

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        na = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
        nb = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
        return np.sum(na * nb, axis=-1)


def iterative_merge(features: np.ndarray, similarity, thresholds: list[float],
                    min_cluster: int) -> list[dict[int, np.ndarray]]:
    """Greedy merging of adjacent patch clusters, most similar first (mean features), down the
    thresholds; per threshold {cluster id: (gh, gw) bool mask} of the clusters with >=
    min_cluster patches (none when one cluster is left: it is the whole box). Layers nest by
    construction; a cluster no merge touched keeps its id from one layer to the next."""
    gh, gw = features.shape[:2]
    n = gh * gw
    means = np.zeros((2 * n, features.shape[2]))
    means[:n] = features.reshape(n, -1)
    counts = np.zeros(2 * n, dtype=np.int64)
    counts[:n] = 1
    grid = np.arange(n).reshape(gh, gw)
    pairs = np.concatenate([np.stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()], axis=1),
                            np.stack([grid[:-1, :].ravel(), grid[1:, :].ravel()], axis=1)])
    neighbours: dict[int, set[int]] = {i: set() for i in range(n)}
    for i, j in pairs.tolist():
        neighbours[i].add(j)
        neighbours[j].add(i)
    values = similarity(means[pairs[:, 0]], means[pairs[:, 1]]) if len(pairs) else np.zeros(0)
    heap = list(zip((-values).tolist(), pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))
    heapq.heapify(heap)
    alive = set(range(n))
    members = {i: [i] for i in range(n)}
    new = n
    layers = []
    for threshold in thresholds:
        while heap and -heap[0][0] >= threshold:
            _, i, j = heapq.heappop(heap)
            if i not in alive or j not in alive:
                continue  # lazy invalidation: a cluster already merged away
            counts[new] = counts[i] + counts[j]
            means[new] = (means[i] * counts[i] + means[j] * counts[j]) / counts[new]
            members[new] = members.pop(i) + members.pop(j)
            alive -= {i, j}
            alive.add(new)
            around = (neighbours.pop(i) | neighbours.pop(j)) - {i, j}
            for c in around:
                neighbours[c] -= {i, j}
                neighbours[c].add(new)
            neighbours[new] = around
            if around:
                others = np.fromiter(around, dtype=np.int64, count=len(around))
                fresh = similarity(means[new][None], means[others])
                for v, c in zip((-fresh).tolist(), others.tolist(), strict=True):
                    heapq.heappush(heap, (v, c, new))
            new += 1
        big = [c for c in sorted(alive) if counts[c] >= min_cluster] if len(alive) > 1 else []
        layer = {}
        for c in big:
            mask = np.zeros(n, dtype=bool)
            mask[members[c]] = True
            layer[c] = mask.reshape(gh, gw)
        layers.append(layer)
    return layers


class UnsamV2Source:
    name = NAME

    def __init__(self, options: UnsamV2Options | None = None, divide_source=None):
        self.options = options or UnsamV2Options()
        self.divide_source = divide_source  # builds detections; None: annotations are given
        self.features = None
        self._labels = None

    def load(self) -> None:
        o = self.options
        if o.feature_model:
            self.features = ModelFeatures(o.feature_model, o.device)
        else:
            self.features = ColourFeatures(o.patch_size, o.colour_scale)

    def build(self, pixels: np.ndarray, annotations: MaskForest | None = None) -> MaskForest:
        if self.features is None:
            self.load()
        height, width = pixels.shape[:2]
        labels = None  # superpixels to snap conquer masks to: the divide's own when it has them
        if annotations is not None:
            detections = annotations
        elif hasattr(self.divide_source, "build_with_labels"):
            detections, labels = self.divide_source.build_with_labels(pixels)
        else:
            detections = self.divide_source.build(pixels)
        drops = Counter(detections.drops)
        rles = [n.rle for n in detections.nodes
                if n.score is None or n.source != "sam" or n.score > self.options.min_score]
        drops["unsamv2_low_score"] += len(detections.nodes) - len(rles)
        instances, parts = divide(rles, height, width, self.options.instance_min_share)
        if self.options.refine == "none":
            labels = None
        elif labels is None:
            labels = _upscale(superpixels(pixels, SuperpixelOptions())[1], height, width)
        self._labels = labels
        drops["unsamv2_not_instance"] += len(rles) - len(instances) - len(
            {j for js in parts.values() for j in js} - set(instances))
        forest = MaskForest(height, width)
        for i in sorted(instances, key=lambda i: -int(coco_mask.area(rles[i]))):
            self._conquer(pixels, rles[i], [rles[j] for j in parts[i]], forest, drops)
        forest.drops.update(drops)
        return forest

    def _conquer(self, pixels: np.ndarray, instance: dict, part_rles: list[dict],
                 forest: MaskForest, drops: Counter) -> None:
        o = self.options
        height, width = pixels.shape[:2]
        runs = RunMask(instance)
        y0, y1, x0, x1 = runs.box()
        inst_crop = runs.window(y0, y1, x0, x1)
        grid = local_grid(pixels[y0:y1, x0:x1], o.local_size, self.features.patch)
        layers = iterative_merge(self.features(grid), self.features.similarity,
                                 list(o.thresholds), o.min_cluster)
        snap = self._snapper(y0, y1, x0, x1, layers, inst_crop)
        conquer, seen = [], set()
        for layer in layers:
            for cluster, patches in layer.items():
                if cluster in seen:  # unchanged since the last layer: the same mask again, which
                    drops["unsamv2_repeated_cluster"] += 1  # NMS (IoU 1) would remove anyway
                    continue
                seen.add(cluster)
                mask, area, inside = snap(patches)
                if area == 0 or inside / area <= o.keep_inside:
                    drops["unsamv2_outside_instance"] += 1
                    continue
                conquer.append(encode_window(mask(), height, width, y0, x0))
        kept = [conquer[i] for i in windowed_nms(conquer, o.nms_iou, o.nms_window)]
        candidates = kept + part_rles
        survivors = [candidates[i] for i in protected_nms([instance], candidates, o.nms_iou, o.nms_window)]
        drops["unsamv2_nms"] += len(conquer) + len(part_rles) - len(survivors)
        self._nest(instance, survivors, forest)

    def _snapper(self, y0: int, y1: int, x0: int, x1: int, layers: list, inst_crop: np.ndarray):
        """patches (gh, gw) -> (lazy box mask, area, pixels inside the instance). Without
        refinement: the patch mask resized bilinearly, as the reference. With superpixels (our
        stand-in for the reference's CascadePSP refinement): the
        superpixels more than half inside the patch mask (each box pixel mapped to its patch),
        counted per superpixel once per instance so a mask costs one matrix-vector product."""
        size = (x1 - x0, y1 - y0)
        if self._labels is None:
            def resized(patches: np.ndarray):
                mask = np.asarray(Image.fromarray(patches.astype(np.uint8) * 255).resize(
                    size, Image.Resampling.BILINEAR)) > 127
                return (lambda: mask), int(mask.sum()), int((mask & inst_crop).sum())
            return resized
        labels = self._labels[y0:y1, x0:x1]  # global superpixel ids: no renumbering needed
        shape = next((m.shape for layer in layers for m in layer.values()), (1, 1))
        rows = np.arange(size[1]) * shape[0] // size[1]
        cols = np.arange(size[0]) * shape[1] // size[0]
        cells = rows[:, None] * shape[1] + cols[None, :]
        count = int(labels.max()) + 1
        n_cells = shape[0] * shape[1]
        per_cell = np.bincount(labels.ravel() * n_cells + cells.ravel(), minlength=count * n_cells)
        per_cell = per_cell.reshape(count, n_cells).astype(np.float64)  # pixels of superpixel s in cell c
        total = per_cell.sum(axis=1)
        in_instance = np.bincount(labels.ravel(), weights=inst_crop.ravel(), minlength=count)

        def snapped(patches: np.ndarray):
            keep = per_cell @ patches.ravel() * 2 > total
            return (lambda: keep[labels]), int(total[keep].sum()), int(in_instance[keep].sum())
        return snapped

    def _nest(self, instance: dict, masks: list[dict], forest: MaskForest) -> None:
        """Instance first, then each mask under the smallest larger kept mask that holds > 90% of
        it (the instance when none does)."""
        root = forest.add(instance, None, NAME)
        areas = [int(coco_mask.area(r)) for r in masks]
        order = sorted(range(len(masks)), key=lambda i: -areas[i])
        inside = inside_matrix([masks[i] for i in order])
        placed: list[int] = []
        for rank, index in enumerate(order):
            holders = [placed[k] for k in range(rank) if inside[rank, k] > self.options.keep_inside
                       and areas[order[k]] >= areas[index]]
            placed.append(forest.add(masks[index], holders[-1] if holders else root, NAME,
                                     area=areas[index]))
