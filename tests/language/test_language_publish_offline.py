"""`segcap publish` without network: one line naming the Hub URL, exit 1, in seconds."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from pipelines.store.publish import PublishError, upload

from .fake_openai import closed_port_url


def test_publish_without_network_is_one_line_and_fast(synthetic_dataset, monkeypatch):
    import flows.cli

    dataset, _ = synthetic_dataset(seeds=(0,))
    dead = closed_port_url().removesuffix("/v1")
    monkeypatch.setenv("HF_ENDPOINT", dead)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    started = time.monotonic()
    result = CliRunner().invoke(flows.cli.app, ["publish", str(dataset.path), "--repo-id", "org/name"])
    elapsed = time.monotonic() - started
    output = " ".join(result.output.split())
    assert result.exit_code == 1, output
    assert f"cannot reach the Hugging Face Hub at {dead}" in output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3
    assert elapsed < 15
    # one app holds every command, data-plane and flow alike
    assert {"publish", "export", "validate"} <= {c.name for c in flows.cli.app.registered_commands}


class BrokenHub:
    def create_repo(self, *args, **kwargs):
        raise ConnectionError("[Errno 101] Network is unreachable\n  a second line")

    def upload_folder(self, **kwargs):
        raise AssertionError("not reached")


def test_a_hub_client_failure_is_one_publish_error_line(tmp_path):
    with pytest.raises(PublishError) as error:
        upload(tmp_path, "org/name", private=False, api=BrokenHub())
    assert str(error.value) == (f"upload of {tmp_path} to datasets/org/name failed: "
                                "ConnectionError: [Errno 101] Network is unreachable")
