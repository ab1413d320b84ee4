"""`segcap mine DIR`: mask hierarchies and mask-granularity pairs for every image of DIR.

Flags come from MineOptions (flows/options_cli.py); this module keeps the pre-checks that need
the dataset or a combination of flags, and the summary, as hooks of the shared scaffolding
(`any_stage.register_stage`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from flows.commands.any_stage import register_stage
from pipelines.stages.mine import MineStage


def register(app: typer.Typer) -> None:
    register_stage(app, MineStage, run=_run, summary=_summary,
                   dir_help="dataset directory with an `images` config",
                   doc="Mine nested masks (superpixel without weights, SAM, UnSAMv2 divide and conquer, "
                       "or gt segments) and write `segments` and `granularity_pairs` into DIR.")


def _run(stage: MineStage, directory: Path):
    """The pre-checks of the flag combinations and the dataset, then the run; a model that
    does not load is one line naming it."""
    from flows.commands.common import existing_dataset, fail
    from pipelines.engine.runner import run_stage

    options = stage.settings
    source, divide = options.source, options.unsamv2.divide
    model, feature_model = options.sam.model, options.unsamv2.feature_model
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
    try:
        return run_stage(stage, dataset)
    except OSError as exc:
        if feature_model and not uses_sam:
            fail(f"cannot load the feature model {feature_model!r}: {exc}")
        if not uses_sam:
            raise
        from annotators.model_loading import ModelLoadError

        fail(str(exc) if isinstance(exc, ModelLoadError)  # it names the model and the fix
             else f"cannot load the {source} model {model!r}: {exc}", code=1)


def _summary(stage: MineStage, stats, directory: Path) -> None:
    from flows.commands.common import print_summary

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
