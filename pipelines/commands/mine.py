"""`segcap mine DIR`: mask hierarchies and mask-granularity pairs for every image of DIR."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def mine(
        directory: Annotated[Path, typer.Argument(help="dataset directory with an `images` config")],
        source: Annotated[str, typer.Option(help="superpixel | gt | sam | sam2 | unsamv2")] = "superpixel",
        granularity: Annotated[str, typer.Option(help="unsamv2 | graco")] = "unsamv2",
        points: Annotated[int, typer.Option(help="clicks per mask (proposal) or per instance tree "
                                            "(instance_path)")] = 3,
        clicks: Annotated[str, typer.Option(help="proposal (GraCo: clicks in each eroded mask) | "
                                            "instance_path (clicks in the instance, one pair per "
                                            "mask on the path)")] = "proposal",
        model: Annotated[str | None, typer.Option(help="SAM / SAM 2 model directory or hub id (source sam, sam2; unsamv2 --divide sam)")] = None,
        divide: Annotated[str, typer.Option(help="unsamv2 instance proposals: superpixel | sam | gt")] = "superpixel",
        feature_model: Annotated[str | None, typer.Option(
            help="unsamv2: DINO-family model directory or hub id for patch features "
                 "(colour/texture features without)")] = None,
        seed: Annotated[int, typer.Option(help="seed of the point sampling")] = 0,
        min_area: Annotated[int, typer.Option(help="masks smaller than this many pixels are dropped")] = 64,
        max_pixels: Annotated[int, typer.Option(help="mining pixel budget of one image")] = 4_194_304,
        over_budget: Annotated[str, typer.Option(help="downscale | reject")] = "downscale",
        batch_size: Annotated[int, typer.Option(help="images per batch")] = 8,
    ) -> None:
        """Mine nested masks (superpixel without weights, SAM, UnSAMv2 divide and conquer, or gt
        segments) and write `segments` and `granularity_pairs` into DIR."""
        from pydantic import ValidationError

        from pipelines.commands.common import existing_dataset, fail, print_summary
        from pipelines.engine.runner import run_stage
        from pipelines.stages.mine import MineStage

        dataset = existing_dataset(directory, needs=("images",))
        needs_gt = source == "gt" or (source == "unsamv2" and divide == "gt")
        if needs_gt and not _has_gt_segments(dataset):
            fail(f"{directory} has no gt rows in `segments`: --source gt needs segments from "
                 "`segcap ingest` (or use --source superpixel)")
        uses_sam = source in ("sam", "sam2") or (source == "unsamv2" and divide == "sam")
        if uses_sam and not model:
            fail(f"--source {source}{' --divide sam' if source == 'unsamv2' else ''} needs --model "
                 f"(a local {'SAM 2' if source == 'sam2' else 'SAM'} directory or a hub id)")
        if feature_model and source != "unsamv2":
            fail("--feature-model is for --source unsamv2 only")
        if feature_model and feature_model.startswith(("/", ".", "~")) and not Path(feature_model).expanduser().is_dir():
            fail(f"--feature-model {feature_model}: no such model folder (give a local folder "
                 "with config.json, or a hub id)")
        options = {"source": source, "granularity": granularity, "points": points, "clicks": clicks,
                   "seed": seed,
                   "min_area": min_area, "max_pixels": max_pixels, "over_budget": over_budget}
        if model:
            options["sam"] = {"model": model}
        if source == "unsamv2":
            options["unsamv2"] = {"divide": divide, "feature_model": feature_model}
        try:
            stage = MineStage(batch_size=batch_size, **options)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            fail(f"bad mine options: {problems}")
        try:
            stats = run_stage(stage, dataset)
        except OSError as exc:
            if feature_model and not uses_sam:
                fail(f"cannot load the feature model {feature_model!r}: {exc}")
            if not uses_sam:
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
