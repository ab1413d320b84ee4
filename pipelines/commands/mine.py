"""`segcap mine DIR`: mask hierarchies and mask-granularity pairs for every image of DIR."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def mine(
        directory: Annotated[Path, typer.Argument(help="dataset directory with an `images` config")],
        source: Annotated[str, typer.Option(help="superpixel | gt | sam | sam2")] = "superpixel",
        granularity: Annotated[str, typer.Option(help="unsamv2 | graco")] = "unsamv2",
        points: Annotated[int, typer.Option(help="point prompts per instance tree")] = 3,
        model: Annotated[str | None, typer.Option(help="SAM / SAM 2 model directory or hub id (source sam, sam2)")] = None,
        seed: Annotated[int, typer.Option(help="seed of the point sampling")] = 0,
        min_area: Annotated[int, typer.Option(help="masks smaller than this many pixels are dropped")] = 64,
        max_pixels: Annotated[int, typer.Option(help="mining pixel budget of one image")] = 4_194_304,
        over_budget: Annotated[str, typer.Option(help="downscale | reject")] = "downscale",
        batch_size: Annotated[int, typer.Option(help="images per batch")] = 8,
    ) -> None:
        """Mine nested masks (superpixel without weights, SAM, or gt segments) and write
        `segments` and `granularity_pairs` into DIR."""
        from pydantic import ValidationError

        from pipelines.commands.common import existing_dataset, fail, print_summary
        from pipelines.mine import MineStage
        from pipelines.runner import run_stage

        dataset = existing_dataset(directory, needs=("images",))
        if source == "gt" and not _has_gt_segments(dataset):
            fail(f"{directory} has no gt rows in `segments`: --source gt needs segments from "
                 "`segcap ingest` (or use --source superpixel)")
        if source in ("sam", "sam2") and not model:
            fail(f"--source {source} needs --model (a local {source.upper()} directory or a hub id)")
        options = {"source": source, "granularity": granularity, "points": points, "seed": seed,
                   "min_area": min_area, "max_pixels": max_pixels, "over_budget": over_budget}
        if model:
            options["sam"] = {"model": model}
        try:
            stage = MineStage(batch_size=batch_size, **options)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            fail(f"bad mine options: {problems}")
        try:
            stats = run_stage(stage, dataset)
        except OSError as exc:
            if source not in ("sam", "sam2"):
                raise
            from annotators.model_loading import ModelLoadError

            fail(str(exc) if isinstance(exc, ModelLoadError)  # it names the model and the fix
                 else f"cannot load the {source} model {model!r}: {exc}", code=1)
        print_summary(stats)
        counters = stats.counters
        if counters:
            typer.echo("dropped/adjusted: " + ", ".join(f"{k} {v}" for k, v in sorted(counters.items())))


def _has_gt_segments(dataset) -> bool:
    import pyarrow.compute as pc

    if not dataset.has("segments"):
        return False
    sources = dataset.read("segments", columns=["mask_source"]).column("mask_source")
    return bool(pc.any(pc.equal(sources, "gt")).as_py())
