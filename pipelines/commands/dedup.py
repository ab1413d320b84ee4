"""`segcap dedup`: mark exact, near-image and semantic duplicates in `instructions`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("dedup")
    def dedup_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with `instructions`")],
        no_exact: Annotated[bool, typer.Option("--no-exact", help="skip exact duplicates")] = False,
        no_near_images: Annotated[bool, typer.Option("--no-near-images", help="skip image hashing")] = False,
        no_semantic: Annotated[bool, typer.Option("--no-semantic", help="skip SemDeDup")] = False,
        image_hash_max_bits: Annotated[int, typer.Option(help="near images: max differing hash bits")] = 6,
        semantic_eps: Annotated[float, typer.Option(help="SemDeDup: duplicate when cosine > 1 - eps")] = 0.05,
        clusters: Annotated[int | None, typer.Option(help="SemDeDup: k-means clusters")] = None,
        semantic_keep: Annotated[str, typer.Option(
            help="SemDeDup: which member stays: hardest (reference) | easiest | random")] = "hardest",
        seed: Annotated[int, typer.Option(help="SemDeDup: order for --semantic-keep random")] = 0,
        embedding_model: Annotated[str | None, typer.Option(help="local sentence-transformers folder")] = None,
        embedding_cache: Annotated[str | None, typer.Option(help="folder caching text vectors")] = None,
    ) -> None:
        """Mark duplicates: each gets `duplicate_of` = the kept original's sample_id."""
        from pipelines.commands.common import console, print_summary
        from pipelines.commands.scoring_common import build_options, run_on_instructions
        from pipelines.stages.dedup import DedupStage
        from schemas.options.scoring import DedupOptions

        options = build_options(DedupOptions, exact=not no_exact, near_images=not no_near_images,
                                semantic=not no_semantic, image_hash_max_bits=image_hash_max_bits,
                                semantic_eps=semantic_eps, semantic_clusters=clusters,
                                semantic_keep=semantic_keep, seed=seed,
                                embedding_model=embedding_model, embedding_cache=embedding_cache)
        stage = DedupStage(**options.model_dump())
        stats = run_on_instructions(stage, directory)
        found = ", ".join(f"{k}: {v}" for k, v in sorted(stage.found.items())) or "none"
        console.print(f"duplicates found: {found}")
        print_summary(stats)
