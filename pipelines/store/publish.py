"""Publishing a dataset directory to the Hugging Face Hub (huggingface_hub `upload_folder`).

What is uploaded: every visible file of the directory (the dataset card, schema.json,
stats.json and the Parquet shards); hidden run state (`.segcap-run/`, `.staging/`) never is.
The token comes from HF_TOKEN or the login cache and is only ever handed to `HfApi`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

HIDDEN_PATTERNS = [".*", ".*/**", "**/.*"]


class PublishError(ValueError):
    pass


class HubApi(Protocol):
    def create_repo(self, repo_id: str, *, repo_type: str, private: bool, exist_ok: bool): ...

    def upload_folder(self, *, repo_id: str, folder_path: str, repo_type: str,
                      ignore_patterns: list[str], commit_message: str): ...


@dataclass
class UploadFile:
    path: str
    size: int


def upload_plan(path: str | Path) -> list[UploadFile]:
    """The files an upload would send, relative to the directory, with their sizes."""
    root = Path(path)
    files = []
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            files.append(UploadFile(relative.as_posix(), file.stat().st_size))
    return files


def check_publishable(path: str | Path) -> None:
    """The directory must pass `segcap validate` (complete, card with configs, contract)."""
    from pipelines.store.validate import validate_dataset

    root = Path(path)
    if not root.is_dir():
        raise PublishError(f"dataset directory {root} does not exist")
    report = validate_dataset(root)
    if not report.ok:
        shown = "; ".join(f"{v.check}/{v.config}: {v.message}" for v in report.violations[:5])
        raise PublishError(f"{root} does not pass validate ({len(report.violations)} "
                           f"violations): {shown}")


def hub_token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return token


def hub_endpoint() -> str:
    """The Hub URL (HF_ENDPOINT read now, so a test or a mirror can point elsewhere)."""
    import os

    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def check_hub_reachable(timeout_s: float = 10.0) -> None:
    """Fail in seconds, with one line, when the Hub cannot be reached (no network, a wrong
    HF_ENDPOINT): before the flow starts, instead of retried uploads ending in a traceback."""
    import httpx

    endpoint = hub_endpoint()
    try:
        httpx.head(endpoint, timeout=timeout_s)  # any HTTP answer means the Hub is reachable
    except httpx.HTTPError as exc:
        raise PublishError(f"cannot reach the Hugging Face Hub at {endpoint} ({type(exc).__name__}); "
                           "check the network (or HF_ENDPOINT) and rerun") from None


def upload(path: str | Path, repo_id: str, private: bool, api: HubApi | None = None) -> str:
    """Create the dataset repo if needed and upload the directory; returns the repo URL.

    Any failure of the Hub calls becomes one PublishError line naming the repo (the flow
    retries the task; the command prints the line, never the client's traceback)."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=hub_token(), endpoint=hub_endpoint())
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(path), repo_type="dataset",
                          ignore_patterns=HIDDEN_PATTERNS,
                          commit_message=f"Upload {Path(path).name} with segcap-curator")
    except PublishError:
        raise
    except Exception as exc:  # network, HTTP and auth errors of the hub client, all alike
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise PublishError(f"upload of {path} to datasets/{repo_id} failed: "
                           f"{type(exc).__name__}: {first}") from None
    return f"{hub_endpoint()}/datasets/{repo_id}"
