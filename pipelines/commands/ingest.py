"""`segcap ingest`: read a source format into a dataset directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

FORMATS_HELP = "images | coco | coco-panoptic | refcoco | mot | llava | mgsc | grandf"


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        format: Annotated[str, typer.Option("--format", "-f", help=FORMATS_HELP)],
        source: Annotated[Path, typer.Option("--source", help="annotation file or folder")],
        out: Annotated[Path, typer.Option("--out", help="dataset directory to write")],
        images: Annotated[Path | None, typer.Option(
            "--images", help="image root (default: the source's folder)")] = None,
        panoptic_masks: Annotated[Path | None, typer.Option(
            "--panoptic-masks", help="coco-panoptic PNG folder")] = None,
        source_name: Annotated[str | None, typer.Option(
            "--source-name", help="value of the `source` column")] = None,
        max_pixels: Annotated[int, typer.Option("--max-pixels", help="refuse larger images")] = 64_000_000,
        no_embed: Annotated[bool, typer.Option("--no-embed", help="store image paths, not bytes")] = False,
        box_masks: Annotated[bool, typer.Option(
            "--box-masks", help="coco: use the bbox as the mask of annotations without a "
            "segmentation (mask_source 'box'); without it they are rejects")] = False,
        mot_default_class: Annotated[str, typer.Option(
            "--mot-default-class", help="mot: class of boxes in files without a class column "
            "(MOT15, DanceTrack, SportsMOT)")] = "person",
        max_json_mb: Annotated[float, typer.Option(
            "--max-json-mb", help="largest annotation JSON read whole (COCO is streamed)")] = 2048,
    ) -> None:
        """Read FORMAT from SOURCE into OUT (images + segments/segcap/instructions; bad items to rejects)."""
        from pydantic import ValidationError

        from pipelines.commands.common import fail, print_summary
        from pipelines.commands.ingest_notes import print_counters
        from pipelines.ingest import IngestError, ingest_with
        from schemas.options.ingest import IngestOptions

        try:
            options = IngestOptions(format=format, source=source, images=images,
                                    panoptic_masks=panoptic_masks, source_name=source_name,
                                    max_pixels=max_pixels, embed_images=not no_embed,
                                    box_masks=box_masks, mot_default_class=mot_default_class,
                                    max_json_mb=max_json_mb)
        except ValidationError as exc:
            error = exc.errors()[0]
            fail(f"--{error['loc'][0]} {error.get('input')!r}: {error['msg']}")
        try:
            stats = ingest_with(options, out)
        except IngestError as exc:
            fail(str(exc))
        print_summary(stats)
        if stats.counters:  # e.g. the MOT variant detected, crowd regions, box masks
            print_counters(stats.counters)
