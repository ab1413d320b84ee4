"""`segcap publish DIR --repo-id ORG/NAME [--private] [--dry-run]` (a Prefect flow)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("publish")
    def publish_command(
        path: Annotated[Path, typer.Argument(help="dataset directory (an export)")],
        repo_id: Annotated[str, typer.Option(help="Hub dataset repo, ORG/NAME")],
        private: Annotated[bool, typer.Option(help="create the repo private")] = False,
        dry_run: Annotated[bool, typer.Option(help="validate and list files; upload nothing")] = False,
    ) -> None:
        """Validate DIR, then upload it to the Hugging Face Hub (token: HF_TOKEN or login cache)."""
        from flows.commands.common import console, fail
        from flows.commands.run import quiet_prefect_defaults
        from pipelines.store.publish import (
            PublishError,
            check_hub_reachable,
            check_publishable,
            hub_token,
        )

        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            fail(f"--repo-id {repo_id!r} must be ORG/NAME")
        try:
            check_publishable(path)  # fail fast, before Prefect starts
            if not dry_run:
                hub_token()
        except PublishError as error:
            fail(str(error))
        if not dry_run:
            try:
                check_hub_reachable()  # no network: one line in seconds, before Prefect starts
            except PublishError as error:
                fail(str(error), code=1)
        quiet_prefect_defaults()
        import tempfile

        from flows.publish import publish
        from flows.run_logging import log_file_in, log_note, route_library_logs

        # not inside DIR: the folder being published stays exactly as validated
        log_file = route_library_logs(log_file_in(Path(tempfile.gettempdir()) / "segcap-logs", "publish"))
        try:
            result = publish(str(path), repo_id, private, dry_run)
        except Exception as error:  # the flow re-raises the task's failure after its retries
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            fail(f"publish of {path} to datasets/{repo_id}: {message}", code=1)
        total = sum(f["size"] for f in result["files"])
        if dry_run:
            for f in result["files"]:
                console.print(f"{f['size']:>12,d}  {f['path']}")
        console.print(f"publish: {len(result['files'])} files, {total:,d} bytes "
                      + (f"uploaded to {result['url']}" if result["uploaded"]
                         else f"would go to datasets/{repo_id} (dry run)"))
        if log_file is not None:
            console.print(log_note(log_file), soft_wrap=True)
