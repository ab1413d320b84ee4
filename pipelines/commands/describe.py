"""`segcap describe`: scene/instance/track descriptions and grounded SegCap captions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("describe")
    def describe_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with `images` (+ `segments`)")],
        backend: Annotated[str, typer.Option(help="template | transformers | openai | vllm")] = "template",
        model: Annotated[str | None, typer.Option(help="local folder, hub id, or served model name")] = None,
        base_url: Annotated[str | None, typer.Option(help="openai backend: e.g. http://localhost:8000/v1")] = None,
        server: Annotated[str, typer.Option(help="openai backend: generic | vllm")] = "generic",
        device: Annotated[str, typer.Option(help="transformers backend: cpu | cuda | cuda:N")] = "cpu",
        max_new_tokens: Annotated[int, typer.Option(help="tokens per answer")] = 256,
        temperature: Annotated[float, typer.Option(help="0 = greedy")] = 0.0,
        max_retries: Annotated[int, typer.Option(help="re-asks of an unusable answer")] = 2,
        on_failure: Annotated[str, typer.Option(help="fallback (template) | reject")] = "fallback",
        tasks: Annotated[str | None, typer.Option(
            help="comma list of root,subtree,panoptic,referring,region_caption")] = None,
        cache: Annotated[str | None, typer.Option(help="SQLite cache file (default DIR/.cache/describe.sqlite)")] = None,
        no_cache: Annotated[bool, typer.Option("--no-cache", help="do not read or write the cache")] = False,
        trust_remote_code: Annotated[bool, typer.Option(help="allow model code from the checkpoint")] = False,
        batch_size: Annotated[int, typer.Option(help="images per batch")] = 16,
        mask_source: Annotated[str, typer.Option(
            help="auto (annotations where an image has them, else mined) | gt | mined")] = "auto",
        timeout_s: Annotated[float, typer.Option(help="openai: seconds per attempt of one request")] = 120.0,
        attempts: Annotated[int, typer.Option(help="openai: tries per request (timeouts, 5xx, 429, bad bodies)")] = 3,
        deadline_s: Annotated[float | None, typer.Option(help="openai: seconds for all model calls; then the step fails")] = None,
        max_fallback_share: Annotated[float, typer.Option(
            help="fail when more than this share of answers are template fallbacks or rejects")] = 0.1,
    ) -> None:
        """Describe scenes, instances and tracks, and write grounded root/subtree captions."""
        from annotators.backends.base import BackendUnavailable
        from pipelines.commands.common import existing_dataset, fail
        from pipelines.commands.scoring_common import (
            build_options,
            preflight_backend,
            print_model_summary,
        )
        from pipelines.engine.runner import run_stage
        from pipelines.engine.stage import StepResultError
        from pipelines.stages.describe import DescribeStage
        from schemas.options.language import DescribeOptions

        options = build_options(
            DescribeOptions, backend=backend, model=model, base_url=base_url, server=server,
            device=device, max_new_tokens=max_new_tokens, temperature=temperature,
            max_retries=max_retries, on_failure=on_failure,
            tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None,
            cache_path=cache, use_cache=not no_cache, trust_remote_code=trust_remote_code,
            model_batch_size=batch_size, mask_source=mask_source, timeout_s=timeout_s,
            attempts=attempts, deadline_s=deadline_s, max_fallback_share=max_fallback_share)
        dataset = existing_dataset(directory, needs=("images",))
        stage = DescribeStage(batch_size=batch_size, **options.model_dump())
        preflight_backend(stage, directory)
        try:
            stats = run_stage(stage, dataset)
        except BackendUnavailable as exc:  # the server is gone: a run failure, not a usage error
            fail(f"describe on {directory} with the {backend} backend: {exc}", code=1)
        except StepResultError as exc:  # e.g. too many template fallbacks: counts in the message
            fail(str(exc), code=1)
        except (OSError, ValueError, ImportError) as exc:
            fail(f"describe on {directory} with the {backend} backend: {exc}")
        print_model_summary(stage, stats)
