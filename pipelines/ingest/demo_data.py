"""The bundled sample set of `segcap demo`, built in seconds with no download.

- `scenes/`: seeded synthetic scenes (annotators.synthetic) as a COCO instances file whose
  part annotations carry `parent_id`: ground-truth mask hierarchies;
- `photos/`: real photos that ship inside scikit-image;
- `mot/demo-seq/`: a MOTChallenge sequence made by sliding one scene's objects across frames;
- `llava/instructions.json`: a small LLaVA-style instruction pool over those images, with a
  few near-duplicates and weak answers so scoring, dedup and selection have something to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from annotators.images import encode_png
from annotators.synthetic import generate_scene
from schemas import masks

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
SCENE_SIZE = (192, 192)
PHOTO_SIDE = 192


def _photo(name: str) -> np.ndarray:
    from PIL import Image
    from skimage import data

    pixels = getattr(data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    image = Image.fromarray(pixels[..., :3])
    image.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
    return np.asarray(image)


def write_scenes(root: Path, count: int, seed: int,
                 size: tuple[int, int] = SCENE_SIZE) -> list[str]:
    """Synthetic scenes `seed`, `seed + 1`, ... + a COCO file with object -> part -> subpart
    annotations (the gt tests ingest them at their own `size`)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    categories: dict[str, int] = {}
    images, annotations = [], []
    for index in range(count):
        scene = generate_scene(seed + index, size)
        file_name = f"scene_{index:03d}.png"
        (root / "images" / file_name).write_bytes(encode_png(scene.pixels))
        images.append({"id": index + 1, "file_name": file_name,
                       "height": size[0], "width": size[1]})
        ids = {}
        for node in scene.nodes():
            ids[id(node)] = len(annotations) + 1
            category = categories.setdefault(node.name, len(categories) + 1)
            annotations.append({
                "id": ids[id(node)], "image_id": index + 1, "category_id": category,
                "segmentation": masks.encode_array(node.mask), "iscrowd": 0,
                "parent_id": ids[id(node.parent)] if node.parent is not None else None,
            })
    coco = {"images": images, "annotations": annotations,
            "categories": [{"id": cid, "name": name} for name, cid in categories.items()]}
    (root / "instances.json").write_text(json.dumps(coco), encoding="utf-8")
    return [f"scenes/images/{img['file_name']}" for img in images]


def write_photos(root: Path) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        (root / f"{name}.png").write_bytes(encode_png(_photo(name)))
    return [f"photos/{name}.png" for name in PHOTOS]


def write_mot(root: Path, frames: int, seed: int) -> None:
    """One sequence: a scene whose pixels and objects slide right by a few pixels per frame."""
    sequence = root / "demo-seq"
    (sequence / "img1").mkdir(parents=True, exist_ok=True)
    (sequence / "gt").mkdir(exist_ok=True)
    scene = generate_scene(seed, SCENE_SIZE)
    height, width = SCENE_SIZE
    lines = []
    for frame in range(1, frames + 1):
        shift = 4 * (frame - 1)
        (sequence / "img1" / f"{frame:06d}.png").write_bytes(
            encode_png(np.roll(scene.pixels, shift, axis=1)))
        for track, node in enumerate(scene.objects, 1):
            ys, xs = np.nonzero(np.roll(node.mask, shift, axis=1))
            # Like MOTChallenge, one class is tracked (robots here) and the gt has no class
            # column: the recipe declares it (mot_default_class: robot), so captions say robot.
            wrapped = len(xs) and xs.min() == 0 and xs.max() == width - 1  # split by the roll
            if len(xs) and node.name == "robot" and not wrapped:
                x, y = xs.min(), ys.min()
                lines.append(f"{frame},{track},{x},{y},{xs.max() - x + 1},{ys.max() - y + 1}")
    (sequence / "gt" / "gt.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (sequence / "seqinfo.ini").write_text(
        "[Sequence]\nname=demo-seq\nimDir=img1\nframeRate=10\n"
        f"seqLength={frames}\nimWidth={width}\nimHeight={height}\nimExt=.png\n", encoding="utf-8")


QUESTIONS = [
    ("What is the main object in this image?", "The main object is {thing}, shown clearly "
     "in the middle of the picture with its parts visible."),
    ("Describe the colours you can see.", "The image shows {thing} with several distinct colours; "
     "the background contrasts with the foreground objects."),
    ("How many distinct objects are there? Explain your counting.", "I count the separate regions "
     "of {thing} one by one: each has its own outline, so there are a few objects in total."),
    ("Write a short caption.", "{thing}."),
    ("Is there any text in the image?", "No."),
]


def write_llava(root: Path, images: list[str]) -> int:
    """Instruction records over the demo images (paths relative to the demo root)."""
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for index, image in enumerate(images):
        thing = Path(image).stem.replace("_", " ")
        for turn, (question, answer) in enumerate(QUESTIONS[: 2 + index % 3]):
            records.append({"id": f"demo-{index:03d}-{turn}", "image": image, "conversations": [
                {"from": "human", "value": f"<image>\n{question}"},
                {"from": "gpt", "value": answer.format(thing=thing)}]})
    # Exact and near duplicates: dedup should catch them.
    records.append({**records[0], "id": "demo-dup-exact"})
    records.append({**records[1], "id": "demo-dup-near", "conversations": [
        records[1]["conversations"][0],
        {"from": "gpt", "value": records[1]["conversations"][1]["value"] + " "}]})
    (root / "instructions.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
    return len(records)


def build_demo_inputs(root: str | Path, *, scenes: int = 6, frames: int = 6, seed: int = 7) -> Path:
    """Write the whole sample set under `root`; returns `root`."""
    root = Path(root)
    scene_images = write_scenes(root / "scenes", scenes, seed)
    photos = write_photos(root / "photos")
    write_mot(root / "mot", frames, seed + 1000)
    write_llava(root / "llava", photos + scene_images[:3])
    return root
