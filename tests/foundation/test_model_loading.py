"""Model loading fails in seconds with one line naming the model, what was tried and what to do."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotators.model_loading import ModelLoadError, resolve_model

ROOT = Path(__file__).resolve().parents[2]


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_missing_local_folder_fails_at_once(tmp_path):
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        resolve_model(str(tmp_path / "no-such-sam"), "sam model")
    assert time.monotonic() - started < 10
    text = one_line(caught.value)
    assert "no-such-sam" in text and "does not exist" in text


def test_folder_without_config_and_wrong_model_kind(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model(str(tmp_path), "sam model")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "sam"}))
    assert resolve_model(str(tmp_path), "sam model", ("sam",)) == str(tmp_path)
    with pytest.raises(ModelLoadError, match="holds a 'sam' model, not a sam2"):
        resolve_model(str(tmp_path), "sam2 model", ("sam2",))


def test_malformed_hub_id_is_named():
    with pytest.raises(ModelLoadError, match="neither an existing local folder nor a valid hub id"):
        resolve_model("bad id with spaces", "model")


def test_uncached_hub_id_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        resolve_model("nobody-here/no-such-model-xyz", "model")
    assert time.monotonic() - started < 10
    text = one_line(caught.value)
    assert "nobody-here/no-such-model-xyz" in text and "HF_HUB_OFFLINE" in text


def _online_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_HOME=str(tmp_path / "hf"), PYTHONPATH=str(ROOT))
    return env


def test_unresolvable_hub_id_online_fails_in_seconds(tmp_path):
    """With HF_HUB_OFFLINE unset the hub is asked once, with a short timeout and no retries."""
    script = ("import time; from annotators.model_loading import resolve_model\n"
              "t = time.monotonic()\n"
              "try:\n    resolve_model('nobody-here/no-such-model-xyz', 'model')\n"
              "except OSError as e:\n    print(round(time.monotonic() - t, 2)); print(e)\n")
    result = subprocess.run([sys.executable, "-c", script], env=_online_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    seconds, message = result.stdout.strip().split("\n")
    assert float(seconds) < 10
    assert "nobody-here/no-such-model-xyz" in message and "HF_TOKEN" in message


def test_sam_source_and_transformers_backend_use_the_check(tmp_path):
    from annotators.backends.transformers_backend import TransformersBackend
    from annotators.masks.sam import SamSource
    from schemas.options.masks import SamOptions

    with pytest.raises(ModelLoadError, match="does not exist"):
        SamSource(SamOptions(model=str(tmp_path / "missing"))).load()
    started = time.monotonic()
    with pytest.raises(ModelLoadError, match="does not exist"):
        TransformersBackend(str(tmp_path / "missing-lmm"))
    assert time.monotonic() - started < 10


def test_mine_cli_prints_one_line_without_traceback(tmp_path, scene_dataset):
    scene_dataset(1, size=(40, 40))
    for source in ("sam", "sam2"):
        result = subprocess.run(
            [sys.executable, "-c", "from flows.cli import main; main()", "mine", str(tmp_path / "ds"), "--source", source,
             "--model", "nobody-here/no-such-sam"],
            env=_online_env(tmp_path), capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "nobody-here/no-such-sam" in lines[0], result.stderr
