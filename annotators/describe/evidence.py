"""Facts measured from pixels and ground truth: colour names, size, position, parts, motion.

Everything here is deterministic and states only what the input supports; the template
describer turns these facts into sentences, and LMM prompts carry them as hints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from skimage.color import rgb2lab

from schemas.grounding import text_label

# Basic colour terms (Berlin & Kay) with typical sRGB values; names are assigned by the nearest
# prototype in CIELAB, where distances follow perceived colour differences.
COLOUR_PROTOTYPES: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15), "white": (250, 250, 250), "grey": (135, 135, 135),
    "red": (210, 35, 35), "orange": (245, 135, 20), "yellow": (240, 220, 40),
    "green": (50, 160, 50), "blue": (30, 70, 210), "purple": (125, 45, 165),
    "pink": (245, 140, 190), "brown": (125, 80, 40), "cyan": (40, 200, 215),
}
_NAMES = list(COLOUR_PROTOTYPES)
_PROTOTYPES_LAB = rgb2lab(np.array([list(COLOUR_PROTOTYPES.values())], dtype=np.uint8))[0]
MIN_COLOUR_SHARE = 0.2  # a colour is named only if it covers at least this share of the mask
MAX_COLOUR_SAMPLES = 20_000


def nearest_colour(rgb: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Index into COLOUR_PROTOTYPES of the nearest prototype (CIELAB) of each RGB value (N, 3);
    chunked, so the temporary is bounded whatever N is."""
    lab = rgb2lab(rgb[None, :, :3].astype(np.uint8))[0]
    prototypes = _PROTOTYPES_LAB[None]
    nearest = np.empty(len(lab), dtype=np.uint8)
    for start in range(0, len(lab), chunk):
        part = lab[start:start + chunk]
        nearest[start:start + len(part)] = np.argmin(((part[:, None, :] - prototypes) ** 2).sum(-1), axis=1)
    return nearest


def colour_names(pixels: np.ndarray, mask: np.ndarray, max_colours: int = 2) -> list[tuple[str, float]]:
    """The main colour names of the masked pixels with their shares, most common first."""
    values = pixels[mask.astype(bool)]
    if len(values) == 0:
        return []
    if len(values) > MAX_COLOUR_SAMPLES:  # a fixed stride keeps it deterministic and bounded
        values = values[:: len(values) // MAX_COLOUR_SAMPLES + 1]
    nearest = nearest_colour(values)
    counts = np.bincount(nearest, minlength=len(_NAMES)) / len(nearest)
    order = np.argsort(-counts, kind="stable")
    named = [(_NAMES[i], float(counts[i])) for i in order if counts[i] >= MIN_COLOUR_SHARE]
    return named[:max_colours] or [(_NAMES[order[0]], float(counts[order[0]]))]


def size_word(area: int, image_area: int) -> str:
    share = area / max(1, image_area)
    for limit, word in ((0.01, "tiny"), (0.05, "small"), (0.2, "medium-sized"), (0.5, "large")):
        if share < limit:
            return word
    return "very large"


def position_words(cx: float, cy: float, width: int, height: int) -> str:
    """A 3x3 grid position of a point: "top left", "centre", "bottom", ..."""
    column = ("left", "", "right")[min(2, int(3 * cx / max(1, width)))]
    row = ("top", "", "bottom")[min(2, int(3 * cy / max(1, height)))]
    return " ".join(w for w in (row, column) if w) or "centre"


def mask_centre(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(xs.mean()), float(ys.mean())


def normalised_box(bbox: list[float], width: int, height: int) -> list[float]:
    """(x1, y1, w, h) in [0, 1], as in MGLMM's per-mask prompt."""
    x, y, w, h = bbox
    return [round(x / width, 3), round(y / height, 3), round(w / width, 3), round(h / height, 3)]


def number_word(n: int) -> str:
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[n] if n < len(words) else str(n)


IRREGULAR_PLURALS = {"person": "people", "man": "men", "woman": "women", "child": "children",
                     "foot": "feet", "tooth": "teeth", "mouse": "mice"}


def plural(name: str, n: int) -> str:
    if n == 1:
        return name
    head, _, last = name.rpartition(" ")
    if last in IRREGULAR_PLURALS:
        return f"{head} {IRREGULAR_PLURALS[last]}".strip()
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def part_counts(part_names: list[str]) -> list[tuple[str, int]]:
    """(name, count) in order of first appearance."""
    counts = Counter(part_names)
    return [(name, counts[name]) for name in dict.fromkeys(part_names)]


def count_phrase(counts: list[tuple[str, int]]) -> str:
    items = [f"{number_word(n)} {plural(name, n)}" for name, n in counts]
    return join_words(items)


def join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class InstanceEvidence:
    """What is known about one instance (image mask) or track (video)."""

    target_id: str
    category: str | None
    colours: list[tuple[str, float]]
    size: str
    position: str
    box_normalised: list[float]
    parts: list[tuple[str, int]] = field(default_factory=list)
    frames: int = 1  # > 1 for tracks
    motion: str | None = None  # tracks: "moves right", "stays in place", ...
    mined: bool = False  # a mined (superpixel/SAM) mask: a region, not an annotated object
    is_part: bool = False

    @property
    def label(self) -> str:
        """The words for this target: its class name cleaned for text, else what is known of it:
        an unlabelled mask is "a region" (or "a part" of one), never "an object"."""
        return text_label(self.category) or ("part" if self.is_part else "region")


def track_motion(centres: list[tuple[float, float]], width: int, height: int) -> str:
    """Net displacement of a track's box centre, in words (2% of the frame counts as still)."""
    if len(centres) < 2:
        return "seen in one frame"
    dx = (centres[-1][0] - centres[0][0]) / max(1, width)
    dy = (centres[-1][1] - centres[0][1]) / max(1, height)
    moves = []
    if abs(dx) >= 0.02:
        moves.append("right" if dx > 0 else "left")
    if abs(dy) >= 0.02:
        moves.append("down" if dy > 0 else "up")
    return "moves " + " and ".join(moves) if moves else "stays in place"


def camera_motion(frames: list[np.ndarray]) -> str:
    """"static" or "moving", from the global shift between the first and later sampled frames.

    Phase correlation on grey frames measures a whole-image translation; moving objects barely
    move the correlation peak, so a shift above 1% of the frame means the camera moved.
    """
    from skimage.color import rgb2gray
    from skimage.registration import phase_cross_correlation

    if len(frames) < 2:
        return "unknown"
    reference = rgb2gray(frames[0])
    height, width = reference.shape
    for frame in frames[1:]:
        if frame.shape != frames[0].shape:
            return "unknown"
        shift, _, _ = phase_cross_correlation(reference, rgb2gray(frame), upsample_factor=1)
        if abs(shift[0]) > 0.01 * height or abs(shift[1]) > 0.01 * width:
            return "moving"
    return "static"


def crowd_density(person_count: int) -> str:
    if person_count == 0:
        return "no people"
    if person_count <= 5:
        return "sparse"
    if person_count <= 20:
        return "moderate"
    return "dense"


PERSON_CATEGORIES = frozenset({"person", "pedestrian", "people", "man", "woman", "child",
                               "player", "dancer", "rider"})


def is_person(category: str | None) -> bool:
    return (category or "").lower() in PERSON_CATEGORIES
