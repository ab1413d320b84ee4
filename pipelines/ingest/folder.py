"""`images`: every image file under a folder (recursive) becomes an `images` row.

Input: `--source DIR`. Files with an image extension are read (case-insensitive); hidden files
and folders are skipped. Each file is probed and decoded under the pixel limit.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.ingest.base import IngestError, ItemResult, ReadContext
from schemas.options.ingest import IngestOptions

PRIMARY = "images"
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def list_items(options: IngestOptions) -> Iterator[dict]:
    root = options.source
    if not root.is_dir():
        raise IngestError(f"--format images needs a folder, {root} is not one")
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            yield {"ref": relative.as_posix(), "file": relative.as_posix()}


def decode(item: dict, ctx: ReadContext, result: ItemResult) -> None:
    ctx.load_image(item["file"], result, root=ctx.options.source)
