"""The one way every command reads an image's bytes from a dataset directory.

Embedded bytes are used as they are. A path-only row is read only when its path resolves inside
the dataset directory or an image root recorded at ingest (`annotators.images.image_bytes`);
anything else is an ImageError `path_escapes_root`, which callers turn into a reject. So a
hand-edited or hostile `images` row can never make export embed, report show, or publish ship
an arbitrary local file.

The roots live in `DIR/.image_roots.json` (hidden: run state, never uploaded), written by ingest
when it stores paths instead of bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from annotators.images import image_bytes

ROOTS_FILE = ".image_roots.json"


def recorded_roots(dataset_path: str | Path) -> list[str]:
    path = Path(dataset_path) / ROOTS_FILE
    if not path.is_file():
        return []
    try:
        roots = json.loads(path.read_text(encoding="utf-8")).get("image_roots", [])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"{path} is unreadable ({exc}); delete it and re-run the ingest that "
                         "stored image paths") from None
    return [r for r in roots if isinstance(r, str)]


def record_image_root(dataset_path: str | Path, root: str | Path) -> None:
    """Add `root` to the directory's recorded image roots (atomic replace)."""
    directory = Path(dataset_path)
    directory.mkdir(parents=True, exist_ok=True)
    roots = recorded_roots(directory)
    resolved = str(Path(root).resolve())
    if resolved in roots:
        return
    target = directory / ROOTS_FILE
    tmp = target.with_name(f"{target.name}.tmp")
    tmp.write_text(json.dumps({"image_roots": sorted([*roots, resolved])}, indent=2), encoding="utf-8")
    tmp.replace(target)


class DatasetImages:
    """Reads image bytes for rows of one dataset directory under the one rule."""

    def __init__(self, dataset_path: str | Path):
        self.root = Path(dataset_path)
        self.roots = recorded_roots(self.root)

    def read(self, image: dict | None) -> bytes:
        """Bytes of an `image` struct; ImageError (reason: path_escapes_root, missing_image, ...)."""
        return image_bytes(image, self.root, self.roots)
