"""Model loading that fails in seconds with one line that says what to do.

`from_pretrained` on a bad name fails slowly and unclearly: a missing local folder is taken for a
hub id and retried for minutes before an `HFValidationError`, and an unreachable hub id prints
retry messages without naming the model. So before loading we check what the name is:
- an existing local folder must hold a `config.json` (a folder written by `save_pretrained`);
- something that looks like a path but does not exist fails at once;
- a hub id must be well formed, then resolve from the local cache, or, unless HF_HUB_OFFLINE is
  set, from the hub with one short request (no retries).
Every failure is a `ModelLoadError` (an OSError, which the CLI commands already print as one line).
"""

from __future__ import annotations

import os
from pathlib import Path

HUB_TIMEOUT_S = 5.0
WHAT_TO_DO = ("pass a local folder written by save_pretrained, or a hub id that is in the local "
              "cache (set HF_HUB_OFFLINE=1 to use only the cache), or log in / set HF_TOKEN for a "
              "gated or private model")


class ModelLoadError(OSError):
    """A model that cannot be loaded; the message is one line naming the model and the fix."""

    def __init__(self, model: str, tried: str, todo: str = WHAT_TO_DO):
        message = f"cannot load model {model!r}: {tried}; {todo}"
        super().__init__(" ".join(message.split()))  # one line, whatever the causes printed


def _offline() -> bool:
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE", "")
    return constants.HF_HUB_OFFLINE or value.strip().lower() in {"1", "true", "yes", "on"}


def _looks_like_path(name: str) -> bool:
    """A hub id is `name` or `owner/name`; anything else with a separator is a path."""
    return (name.startswith((".", "~", "/")) or name.count("/") > 1 or os.sep in name.replace("/", "")
            or name.endswith("/"))


def resolve_model(name: str | None, kind: str = "model", expect_types: tuple[str, ...] = ()) -> str:
    """Check that `name` can be loaded and return what to pass to `from_pretrained`.

    `expect_types`: accepted `model_type` values of a local folder's config.json (a SAM 2 folder
    given to the SAM source fails here, not deep inside transformers).
    """
    if not name:
        raise ModelLoadError(str(name), f"no {kind} was given",
                             "pass --model with a local folder or a hub id")
    path = Path(name).expanduser()
    if path.exists():
        return _check_local(name, path, kind, expect_types)
    if _looks_like_path(name):
        raise ModelLoadError(name, f"the local {kind} folder {path} does not exist",
                             "check the path, or pass a hub id such as owner/name")
    return _check_hub(name, kind)


def _check_local(name: str, path: Path, kind: str, expect_types: tuple[str, ...]) -> str:
    import json

    config = path / "config.json"
    if not path.is_dir() or not config.is_file():
        raise ModelLoadError(name, f"{path} is not a {kind} folder (no config.json in it)",
                             "pass the folder written by save_pretrained")
    if expect_types:
        try:
            model_type = json.loads(config.read_text()).get("model_type")
        except (OSError, ValueError) as exc:
            raise ModelLoadError(name, f"{config} is not readable JSON ({exc})",
                                 "re-save the model with save_pretrained") from None
        if model_type not in expect_types:
            raise ModelLoadError(name, f"{path} holds a {model_type!r} model, not a "
                                 f"{' or '.join(expect_types)} {kind}",
                                 "pass a folder of the right model kind")
    return str(path)


def _check_hub(name: str, kind: str) -> str:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise ModelLoadError(name, "it is neither an existing local folder nor a valid hub id",
                             "pass an existing local folder, or a hub id such as owner/name"
                             ) from None
    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return name
    if _offline():
        raise ModelLoadError(name, "hub id not in the local cache and HF_HUB_OFFLINE is set",
                             "download it once with network (or unset HF_HUB_OFFLINE), or pass a "
                             "local folder written by save_pretrained")
    try:
        get_hf_file_metadata(hf_hub_url(name, "config.json"), timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        raise ModelLoadError(name, "the hub refused access (gated or private)",
                             "log in with `hf auth login` or set HF_TOKEN, after accepting the "
                             "model's terms on the hub") from None
    except RepositoryNotFoundError:
        raise ModelLoadError(name, "no such model on the hub (or it is private)",
                             "check the id, or set HF_TOKEN for a private model") from None
    except Exception as exc:  # connection refused, DNS, timeout, HTTP errors: all mean unreachable
        reason = f"{type(exc).__name__}: {exc}"[:160]
        raise ModelLoadError(name, f"not in the local cache and the hub did not answer within "
                             f"{HUB_TIMEOUT_S:.0f} s ({reason})") from None
    return name


def load_failure(name: str, exc: BaseException) -> ModelLoadError:
    """A `from_pretrained` failure after the checks passed (e.g. missing weights), as one line."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return ModelLoadError(name, f"from_pretrained failed ({type(exc).__name__}: {first})",
                          "check that the folder or hub snapshot holds the config and weights "
                          "files of one model")
