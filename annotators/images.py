"""Bounded, safe image decoding and path resolution shared by every reader and annotator.

EXIF orientation: every size and every decoded pixel array here is UPRIGHT (the EXIF rotation
applied, as `datasets.load_dataset` and every viewer show the image), so masks made on these
pixels line up with what a training loader returns. Ingest stores an oriented image's bytes
re-encoded upright (`upright_bytes`), so the rotation is applied once and the stored pixels
need no EXIF to be read correctly.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from schemas.budgets import DECODE_MAX_PIXELS
from schemas.errors import SegcapError
from schemas.rejects import Reason


class ImageError(SegcapError):
    """An image that cannot be used; `reason` goes to rejects and stats."""


@dataclass
class DecodedImage:
    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    original_mode: str
    width: int
    height: int


def resolve_inside(root: str | Path, relative: str | Path) -> Path:
    """Join an annotation's image path to the declared root; refuse anything that escapes it."""
    root_path = Path(root).resolve()
    candidate = (root_path / relative).resolve()
    if not candidate.is_relative_to(root_path):
        raise ImageError(Reason.PATH_ESCAPES_ROOT, f"{relative!s} resolves outside the image root {root_path}")
    return candidate


# An image file larger than this is refused before it is read (no image we keep is near it).
MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024


def read_image_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ImageError(Reason.MISSING_IMAGE, f"no image file at {path}")
    size = path.stat().st_size
    if size > MAX_IMAGE_FILE_BYTES:
        raise ImageError(Reason.TOO_MANY_BYTES, f"{path} is {size} bytes, over {MAX_IMAGE_FILE_BYTES}")
    return path.read_bytes()


def resolve_image_path(path: str, dataset_root: str | Path, image_roots=()) -> Path:
    """THE rule for an `images` row's `image.path`: it must resolve (symlinks followed) inside
    the dataset directory or one of the image roots recorded at ingest. A relative path is
    taken from the dataset directory first, then from each root. Anything else is
    `path_escapes_root`: a row must never make us read (and embed, or publish) an arbitrary file.
    """
    if not isinstance(path, str) or not path:
        raise ImageError(Reason.MISSING_IMAGE, "the row has neither image bytes nor a path")
    roots = [Path(dataset_root).resolve(), *(Path(r).resolve() for r in image_roots)]
    candidates = [Path(path).resolve()] if Path(path).is_absolute() else \
        [(root / path).resolve() for root in roots]
    inside = [c for c in candidates if any(c.is_relative_to(root) for root in roots)]
    if not inside:
        raise ImageError(Reason.PATH_ESCAPES_ROOT, f"{path} resolves outside the dataset directory "
                         "and the image roots recorded at ingest; it is not read")
    return next((c for c in inside if c.is_file()), inside[0])


def image_bytes(image: dict | None, dataset_root: str | Path, image_roots=()) -> bytes:
    """The encoded bytes of an `images` row's `image` struct: embedded bytes, else the file its
    path names under `resolve_image_path`'s rule (ImageError with a reason otherwise)."""
    if not image:
        raise ImageError(Reason.MISSING_IMAGE, "the row has no image")
    if image.get("bytes") is not None:
        return image["bytes"]
    return read_image_bytes(resolve_image_path(image.get("path"), dataset_root, image_roots))


EXIF_ORIENTATION = 0x0112
SWAPS_AXES = (5, 6, 7, 8)  # orientations that turn the image by 90 or 270 degrees


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block is ignored, as viewers ignore it
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def probe_size(data: bytes, max_pixels: int = DECODE_MAX_PIXELS) -> tuple[int, int, str]:
    """(width, height, mode) of the upright image from the header alone, refusing images over
    the pixel budget."""
    image = _open(data, max_pixels)
    if _orientation(image) in SWAPS_AXES:
        return image.height, image.width, image.mode
    return image.width, image.height, image.mode


def upright_bytes(data: bytes, max_pixels: int = DECODE_MAX_PIXELS) -> bytes:
    """`data` itself when it needs no rotation; else the upright image as PNG without EXIF.

    PNG, not JPEG: turning a JPEG with Pillow means decoding it, and a JPEG re-encode would add
    a second generation of compression loss; PNG keeps the decoded pixels exactly.
    """
    image = _open(data, max_pixels)
    if _orientation(image) == 1:
        return data
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(Reason.TRUNCATED_IMAGE, f"image data is incomplete or corrupt: {exc}") from exc
    if upright.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        upright = upright.convert("RGB")  # CMYK, YCbCr, ...: PNG cannot hold them
    buffer = io.BytesIO()
    upright.save(buffer, format="PNG")
    return buffer.getvalue()


def _open(data: bytes, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(Reason.TOO_MANY_PIXELS, str(exc)) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(Reason.UNREADABLE_IMAGE, f"not a decodable image: {exc}") from exc
    if image.width * image.height > max_pixels:
        raise ImageError(
            Reason.TOO_MANY_PIXELS,
            f"{image.width}x{image.height} exceeds the pixel budget of {max_pixels}",
        )
    if image.width < 1 or image.height < 1:
        raise ImageError(Reason.UNREADABLE_IMAGE, "image has no pixels")
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale to 8 bits by the image's own range, not by truncation.
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = np.zeros_like(array) if high == low else (array - low) / (high - low) * 255.0
        return Image.fromarray(scaled.astype(np.uint8), mode="L").convert("RGB")
    if mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        low, high = float(array.min()), float(array.max())
        scaled = np.zeros_like(array) if high == low else (array - low) / (high - low) * 255.0
        return Image.fromarray(scaled.astype(np.uint8), mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Composite on white so transparent regions do not turn black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, P, CMYK, YCbCr, 1, ...


def decode_image(data: bytes, max_pixels: int = DECODE_MAX_PIXELS) -> DecodedImage:
    """Encoded bytes -> RGB pixels, with the pixel budget enforced before decoding."""
    image = _open(data, max_pixels)
    original_mode = image.mode
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never half an image
    try:
        image.load()
        if _orientation(image) != 1:  # a path-only row still holds the camera's raw grid
            image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
        pixels = np.asarray(rgb, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(Reason.TRUNCATED_IMAGE, f"image data is incomplete or corrupt: {exc}") from exc
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    return DecodedImage(pixels, original_mode, rgb.width, rgb.height)


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(pixels: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def image_row(data: bytes, file_name: str, source: str, *, video_id: str | None = None,
              frame_index: int | None = None, max_pixels: int = DECODE_MAX_PIXELS,
              embed: bool = True, path: str | None = None) -> dict:
    """An `images` row for encoded bytes; refuses unreadable or over-budget images (ImageError)."""
    from schemas.ids import content_sha256

    if embed:  # stored upright once, here; a path-only row is turned on every decode instead
        data = upright_bytes(data, max_pixels)
    width, height, _ = probe_size(data, max_pixels)
    digest = content_sha256(data)
    return {
        "image_id": digest[:16],  # an image's id: its content hash, so equal bytes are one image
        "image": {"bytes": data if embed else None, "path": path or file_name},
        "file_name": file_name,
        "width": width,
        "height": height,
        "sha256": digest,
        "source": source,
        "video_id": video_id,
        "frame_index": frame_index,
    }
