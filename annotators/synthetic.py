"""Seeded synthetic scenes with a known object -> part -> subpart structure.

Textured shapes on a textured background, placed so that later objects may occlude earlier ones.
Every node's mask is its visible pixels, so children always nest inside their parents. The tests,
the mask benchmark, the language helper and the demo share it:

    scene = generate_scene(seed=3, size=(256, 256))
    scene.pixels            # (H, W, 3) uint8
    for node in scene.nodes(): node.name, node.level, node.colour, node.mask, node.parent
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from schemas.masks import encode_array
from schemas.rows import segment_row

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 70, 200),
    "yellow": (230, 210, 50), "orange": (240, 140, 30), "purple": (130, 50, 160),
    "cyan": (50, 200, 210), "pink": (240, 130, 180), "brown": (120, 75, 35),
    "white": (245, 245, 245), "black": (20, 20, 20), "grey": (128, 128, 128),
}
BACKGROUNDS = ("sand", "sky", "grass")
_BACKGROUND_RGB = {"sand": (215, 190, 150), "sky": (150, 190, 230), "grass": (110, 150, 90)}


@dataclass
class SceneNode:
    node_id: str
    name: str
    level: int  # 0 object, 1 part, 2 subpart
    colour: str
    mask: np.ndarray  # (H, W) bool, visible pixels only
    parent: SceneNode | None = None
    children: list[SceneNode] = field(default_factory=list)

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass
class SyntheticScene:
    pixels: np.ndarray
    objects: list[SceneNode]
    background: str
    seed: int

    def nodes(self) -> list[SceneNode]:
        """Every node, parent-first."""
        out, stack = [], list(reversed(self.objects))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def segment_rows(self, image_id: str) -> list[dict]:
        """The scene as ground-truth `segments` rows of image `image_id` (parent links kept).

        Ids are readable (`<image_id>-<node_id>`) rather than a `schemas.ids` hash: the scene is
        test and demo data, and tests name the segments they expect by node id."""
        return [
            segment_row(
                segment_id=f"{image_id}-{node.node_id}", image_id=image_id,
                parent_id=f"{image_id}-{node.parent.node_id}" if node.parent else None,
                level=node.level, mask=encode_array(node.mask), category=node.name,
            )
            for node in self.nodes()
        ]


# ---- shapes: boolean masks on the image grid -------------------------------------------------
class _Canvas:
    def __init__(self, height: int, width: int):
        self.ys, self.xs = np.mgrid[0:height, 0:width].astype(np.float32)

    def rect(self, x0, y0, x1, y1):
        return (self.xs >= x0) & (self.xs < x1) & (self.ys >= y0) & (self.ys < y1)

    def ellipse(self, cx, cy, rx, ry):
        return ((self.xs - cx) / max(rx, 0.5)) ** 2 + ((self.ys - cy) / max(ry, 0.5)) ** 2 <= 1.0

    def triangle(self, cx, top, bottom, half):
        t = (self.ys - top) / max(bottom - top, 1.0)
        return (t >= 0) & (t <= 1) & (np.abs(self.xs - cx) <= t * half)


Spec = tuple[str, np.ndarray, list]  # (name, mask, children specs)


def _robot(c: _Canvas, cx, cy, s) -> list[Spec]:
    head = c.rect(cx - 0.22 * s, cy - 0.5 * s, cx + 0.22 * s, cy - 0.15 * s)
    eyes = [("eye", c.ellipse(cx + dx * s, cy - 0.35 * s, 0.06 * s, 0.06 * s), []) for dx in (-0.1, 0.1)]
    return [
        ("body", c.rect(cx - 0.3 * s, cy - 0.15 * s, cx + 0.3 * s, cy + 0.45 * s), []),
        ("head", head, eyes),
        ("arm", c.rect(cx - 0.5 * s, cy - 0.1 * s, cx - 0.3 * s, cy + 0.3 * s),
         [("hand", c.ellipse(cx - 0.4 * s, cy + 0.28 * s, 0.1 * s, 0.07 * s), [])]),
        ("arm", c.rect(cx + 0.3 * s, cy - 0.1 * s, cx + 0.5 * s, cy + 0.3 * s),
         [("hand", c.ellipse(cx + 0.4 * s, cy + 0.28 * s, 0.1 * s, 0.07 * s), [])]),
    ]


def _house(c: _Canvas, cx, cy, s) -> list[Spec]:
    wall = c.rect(cx - 0.4 * s, cy - 0.1 * s, cx + 0.4 * s, cy + 0.45 * s)
    return [
        ("wall", wall, [
            ("door", c.rect(cx - 0.08 * s, cy + 0.15 * s, cx + 0.08 * s, cy + 0.45 * s), []),
            ("window", c.rect(cx + 0.15 * s, cy, cx + 0.32 * s, cy + 0.15 * s), []),
        ]),
        ("roof", c.triangle(cx, cy - 0.5 * s, cy - 0.1 * s, 0.48 * s), []),
    ]


def _tree(c: _Canvas, cx, cy, s) -> list[Spec]:
    apples = [("apple", c.ellipse(cx + dx * s, cy + dy * s, 0.06 * s, 0.06 * s), [])
              for dx, dy in ((-0.15, -0.2), (0.12, -0.1))]
    return [
        ("trunk", c.rect(cx - 0.08 * s, cy, cx + 0.08 * s, cy + 0.5 * s), []),
        ("crown", c.ellipse(cx, cy - 0.2 * s, 0.38 * s, 0.3 * s), apples),
    ]


def _car(c: _Canvas, cx, cy, s) -> list[Spec]:
    wheels = [("wheel", c.ellipse(cx + dx * s, cy + 0.2 * s, 0.13 * s, 0.13 * s),
               [("hub", c.ellipse(cx + dx * s, cy + 0.2 * s, 0.05 * s, 0.05 * s), [])])
              for dx in (-0.28, 0.28)]
    return [
        ("chassis", c.rect(cx - 0.5 * s, cy - 0.05 * s, cx + 0.5 * s, cy + 0.2 * s), []),
        ("cabin", c.rect(cx - 0.28 * s, cy - 0.3 * s, cx + 0.22 * s, cy - 0.05 * s),
         [("window", c.rect(cx - 0.2 * s, cy - 0.25 * s, cx + 0.14 * s, cy - 0.1 * s), [])]),
        *wheels,
    ]


TEMPLATES: dict[str, Callable[..., list[Spec]]] = {
    "robot": _robot, "house": _house, "tree": _tree, "car": _car,
}


def _texture(rng: np.random.Generator, height: int, width: int, canvas: _Canvas) -> np.ndarray:
    """A mild per-node texture: stripes or blotches plus pixel noise (amplitude well under the
    distance between palette colours, so colour still tells nodes apart)."""
    if rng.random() < 0.5:
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 12)
        wave = np.sin((canvas.xs * np.cos(angle) + canvas.ys * np.sin(angle)) * 2 * np.pi / period)
        pattern = 10.0 * wave
    else:
        coarse = rng.normal(0, 10, size=(height // 8 + 1, width // 8 + 1))
        pattern = np.kron(coarse, np.ones((8, 8)))[:height, :width]
    return pattern + rng.normal(0, 4, size=(height, width))


def _pick_colour(rng: np.random.Generator, avoid: set[str]) -> str:
    choices = [name for name in PALETTE if name not in avoid]
    return str(rng.choice(choices))


def generate_scene(seed: int, size: tuple[int, int] = (256, 256), *, objects: int | None = None,
                   min_visible_fraction: float = 0.002) -> SyntheticScene:
    """A seeded scene: 2-4 objects (robot, house, tree, car) with parts and subparts."""
    height, width = size
    rng = np.random.default_rng(seed)
    canvas = _Canvas(height, width)
    background = str(rng.choice(BACKGROUNDS))
    layers = np.empty((height, width, 3), dtype=np.float32)
    layers[:] = _BACKGROUND_RGB[background]
    layers += _texture(rng, height, width, canvas)[..., None]
    painted: list[tuple[np.ndarray, np.ndarray]] = []  # (mask, colour) in paint order
    placed: list[tuple[str, str, list]] = []
    count = objects if objects is not None else int(rng.integers(2, 5))
    side = min(height, width)
    for index in range(count):
        name = str(rng.choice(list(TEMPLATES)))
        scale = rng.uniform(0.35, 0.6) * side
        cx = rng.uniform(0.3, 0.7) * width + rng.uniform(-0.2, 0.2) * width * (index % 2 * 2 - 1)
        cy = rng.uniform(0.35, 0.65) * height
        parts = TEMPLATES[name](canvas, cx, cy, scale)
        used: set[str] = set()
        coloured = []
        for part_name, mask, subparts in parts:
            colour = _pick_colour(rng, used)
            used.add(colour)
            painted.append((mask, colour))
            subs = []
            for sub_name, sub_mask, _ in subparts:
                sub_colour = _pick_colour(rng, {colour})
                sub_mask = sub_mask & mask
                painted.append((sub_mask, sub_colour))
                subs.append((sub_name, sub_mask, sub_colour))
            coloured.append((part_name, mask, colour, subs))
        placed.append((f"o{index}", name, coloured))
    for mask, colour in painted:
        texture = _texture(rng, height, width, canvas)
        layers[mask] = np.asarray(PALETTE[colour], dtype=np.float32) + texture[mask][:, None]
    pixels = np.clip(layers, 0, 255).astype(np.uint8)
    return SyntheticScene(pixels, _visible_forest(placed, min_visible_fraction * height * width),
                          background, seed)


def _visible_forest(placed: list, min_area: float) -> list[SceneNode]:
    """Visible masks: everything painted later covers what lies beneath it."""
    height, width = placed[0][2][0][1].shape
    covered = np.zeros((height, width), dtype=bool)
    objects: list[SceneNode] = []
    for object_id, name, parts in reversed(placed):  # topmost object first
        visible_parts, covered_in_object = [], covered.copy()
        for index in range(len(parts) - 1, -1, -1):  # later parts lie over earlier ones
            part_name, mask, colour, subs = parts[index]
            part_mask = mask & ~covered_in_object
            covered_in_object |= mask
            visible_parts.append((index, part_name, part_mask, colour, subs))
        object_mask = np.zeros_like(covered)
        for _, _, part_mask, _, _ in visible_parts:
            object_mask |= part_mask
        if object_mask.sum() < min_area:
            covered |= object_mask
            continue
        first_colour = parts[0][2]
        obj = SceneNode(object_id, name, 0, first_colour, object_mask)
        for index, part_name, part_mask, colour, subs in sorted(visible_parts):
            if part_mask.sum() < min_area:
                continue
            part = SceneNode(f"{object_id}.p{index}", part_name, 1, colour, part_mask, obj)
            for sub_index, (sub_name, sub_mask, sub_colour) in enumerate(subs):
                visible = sub_mask & part_mask
                if visible.sum() >= min_area:
                    part.children.append(SceneNode(f"{part.node_id}.s{sub_index}", sub_name, 2,
                                                   sub_colour, visible, part))
            obj.children.append(part)
        covered |= object_mask
        objects.append(obj)
    objects.reverse()  # back to paint order
    return objects
