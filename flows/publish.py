"""The `publish` flow: validate, then upload to the Hub with retries (network is flaky)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task
from prefect.tasks import exponential_backoff

from pipelines.store.publish import check_publishable, upload, upload_plan

UPLOAD_RETRIES = 3


@task(name="validate-before-publish", cache_policy=None)
def validate_task(path: str) -> list[dict]:
    check_publishable(path)
    return [asdict(f) for f in upload_plan(path)]


@task(name="upload-to-hub", retries=UPLOAD_RETRIES,
      retry_delay_seconds=exponential_backoff(2.0)(UPLOAD_RETRIES), cache_policy=None)
def upload_task(path: str, repo_id: str, private: bool, api: Any) -> str:
    return upload(path, repo_id, private, api)


@flow(name="segcap-publish")
def publish(path: str, repo_id: str, private: bool = False, dry_run: bool = False,
            api: Any = None) -> dict:
    """Validate `path`, then upload it (or, with `dry_run`, only list what would go).

    `api` is an `HfApi`-like client (default: `HfApi` with the HF_TOKEN / login-cache token).
    """
    files = validate_task(path)
    if dry_run:
        return {"repo_id": repo_id, "files": files, "uploaded": False}
    url = upload_task(path, repo_id, private, api)
    return {"repo_id": repo_id, "files": files, "uploaded": True, "url": url}
