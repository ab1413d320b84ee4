"""`segcap export DIR --out OUT [--format parquet|mglmm]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        path: Annotated[Path, typer.Argument(help="dataset directory to export")],
        out: Annotated[Path, typer.Option("--out", help="output directory (replaced atomically)")],
        format: Annotated[str, typer.Option(
            "--format", help="parquet (HF dataset dir) | mglmm (MGSC/GCG JSON + images) | "
                             "llava (selected instructions as LLaVA JSON + images + sidecar)")] = "parquet",
        max_rows: Annotated[int, typer.Option("--max-rows-per-shard", min=1)] = 20_000,
        max_mb: Annotated[int, typer.Option("--max-mb-per-shard", min=1)] = 256,
        no_embed: Annotated[bool, typer.Option(
            "--no-embed", help="keep path-only images as paths")] = False,
        all_rows: Annotated[bool, typer.Option(
            "--all", help="llava: every instruction, not only the selected ones")] = False,
    ) -> None:
        """Write bounded Parquet shards + README card + schema.json + stats.json, atomically."""
        from pipelines.commands.common import console, existing_dataset, fail

        existing_dataset(path)
        if format == "parquet":
            from pipelines.export import ExportError, export_dataset

            try:
                stats = export_dataset(path, out, max_rows_per_shard=max_rows,
                                       max_bytes_per_shard=max_mb * 1024 * 1024,
                                       embed_images=not no_embed)
            except ExportError as exc:
                fail(str(exc))
            console.print(stats.summary_line())
        elif format == "mglmm":
            from pipelines.mglmm_export import export_mglmm

            if not (path / "segcap").is_dir():
                fail(f"{path} has no `segcap` config to convert to MGLMM JSON")
            counts = export_mglmm(path, out)
            console.print(f"export (mglmm): {counts['rows_in']} in, {counts['mgsc'] + counts['gcg']} "
                          f"out ({counts['mgsc']} mgsc, {counts['gcg']} gcg, {counts['images']} "
                          "images), 0 rejected")
        elif format == "llava":
            from pipelines.llava_export import LlavaExportError, export_llava

            try:
                counts = export_llava(path, out, include_all=all_rows)
            except LlavaExportError as exc:
                fail(str(exc))
            console.print(f"export (llava): {counts['rows_in']} in, {counts['records']} out "
                          f"({counts['images']} images), {counts['skipped']} skipped")
            if counts["skipped"]:
                fail(f"{counts['skipped']} samples of {path} have no readable image and were left "
                     f"out; see {out / 'selection.json'} (skipped)", code=1)
        else:
            fail(f"--format {format!r} is not one of: parquet, mglmm, llava")
