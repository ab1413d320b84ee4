"""Format name -> reader module. A reader module has PRIMARY, `list_items(options)`, `decode(item, ctx, result)`."""

from __future__ import annotations

import importlib
from types import ModuleType

from schemas.options.ingest import INGEST_FORMATS

_MODULES = {
    "images": "pipelines.ingest.folder",
    "coco": "pipelines.ingest.coco",
    "coco-panoptic": "pipelines.ingest.coco_panoptic",
    "refcoco": "pipelines.ingest.refcoco",
    "mot": "pipelines.ingest.mot",
    "llava": "pipelines.ingest.llava",
    "mgsc": "pipelines.ingest.mgsc",
    "grandf": "pipelines.ingest.grandf",
}
assert set(_MODULES) == set(INGEST_FORMATS)


def reader_for(format_name: str) -> ModuleType:
    try:
        return importlib.import_module(_MODULES[format_name])
    except KeyError:
        raise ValueError(f"unknown ingest format {format_name!r}; known: {', '.join(_MODULES)}") from None
