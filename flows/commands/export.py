"""`segcap export DIR --out OUT [--format parquet|mglmm|unsamv2|lgmot [--text-model M]]`."""

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
            "--format", help="parquet (HF dataset dir) | mglmm (MGSC/GCG JSON + images) | unsamv2 (COCO JSON per image) | "
            "lgmot (CLIP text embeddings per MOT sequence) | llava (selected instructions as LLaVA JSON + images + sidecar)")] = "parquet",
        max_rows: Annotated[int, typer.Option("--max-rows-per-shard", min=1)] = 20_000,
        max_mb: Annotated[int, typer.Option("--max-mb-per-shard", min=1)] = 256,
        no_embed: Annotated[bool, typer.Option(
            "--no-embed", help="keep path-only images as paths")] = False,
        drop_failed: Annotated[bool, typer.Option(
            "--drop-failed", help="parquet, mglmm: leave out samples and descriptions that "
            "`segcap verify` failed (counted in the summary)")] = False,
        text_model: Annotated[str | None, typer.Option(
            "--text-model", help="lgmot: CLIP model folder or hub id for the text embeddings")] = None,
        all_rows: Annotated[bool, typer.Option(
            "--all", help="llava: every instruction, not only the selected ones")] = False,
    ) -> None:
        """Write bounded Parquet shards + README card + schema.json + stats.json, atomically."""
        from flows.commands.common import console, existing_dataset, fail

        existing_dataset(path)
        if format == "parquet":
            from pipelines.exports.dataset import ExportError, export_dataset

            try:
                stats = export_dataset(path, out, max_rows_per_shard=max_rows,
                                       max_bytes_per_shard=max_mb * 1024 * 1024,
                                       embed_images=not no_embed, drop_failed=drop_failed)
            except ExportError as exc:
                fail(str(exc))
            console.print(stats.summary_line())
            for key, value in sorted(stats.counters.items()):
                console.print(f"  {key}: {value}")
            if stats.rejected:  # an image left out is not what was asked: say so, exit 1
                fail(f"export of {path}: {sum(stats.rejected.values())} image(s) not exported "
                     f"({', '.join(f'{k} {v}' for k, v in sorted(stats.rejected.items()))}); "
                     f"see the `rejects` config of {out}", code=1)
        elif format == "mglmm":
            from pipelines.exports.dataset import ExportError
            from pipelines.exports.mglmm import export_mglmm

            if not (path / "segcap").is_dir():
                fail(f"{path} has no `segcap` config to convert to MGLMM JSON")
            try:
                report = export_mglmm(path, out, drop_failed=drop_failed)
            except ExportError as exc:
                fail(str(exc))
            console.print(report.summary_line())
        elif format == "unsamv2":
            from pipelines.exports.dataset import ExportError
            from pipelines.exports.unsamv2 import export_unsamv2

            try:
                report = export_unsamv2(path, out)
            except ExportError as exc:
                fail(str(exc))
            console.print(report.summary_line())
        elif format == "lgmot":
            from annotators.clip_text import ClipModelError
            from pipelines.exports.dataset import ExportError
            from pipelines.exports.lgmot import export_lgmot

            if not text_model:
                fail("--format lgmot needs --text-model (a CLIP folder or hub id, e.g. "
                     "openai/clip-vit-base-patch32)")
            try:
                report = export_lgmot(path, out, text_model)
            except ExportError as exc:
                fail(str(exc))
            except ClipModelError as exc:
                fail(f"--text-model: {exc}", 1)
            console.print(report.summary_line())
        elif format == "llava":
            from pipelines.exports.llava import LlavaExportError, export_llava

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
            fail(f"--format {format!r} is not one of: parquet, mglmm, unsamv2, lgmot, llava")
