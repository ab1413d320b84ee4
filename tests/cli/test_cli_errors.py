"""Every documented `segcap` command, given bad arguments, prints one clear line and exits 2/1.

The cases run through `flows.cli.main` (the console script itself) in a narrow terminal
(COLUMNS=40) so that any wrapping of an error would show; in-process for speed, plus a few as a
real `python -m flows.cli` process to prove the process prints no traceback either.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
LONG = "a-very-long-directory-name-for-testing-that-error-lines-are-never-wrapped"


def segcap(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "40", "PYTHONPATH": str(REPO),
                   "PREFECT_API_URL": "", **(env or {})}
    environment.pop("SEGCAP_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder with one image, an `images` dataset of it, a valid recipe and a bad one."""
    root = tmp_path_factory.mktemp("cli") / LONG
    (root / "imgs").mkdir(parents=True)
    pixels = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "imgs" / "a.png")
    made = segcap("ingest", "--format", "images", "--source", "imgs", "--out", "ds", cwd=root)
    assert made.returncode == 0, made.stderr
    (root / "recipe.yaml").write_text("name: tiny\noutput: out\ninputs:\n  - {format: images, source: imgs}\n")
    (root / "broken.yaml").write_text("name: tiny\noutput: [\n")
    (root / "a-file.txt").write_text("not a dataset\n")
    return root


# (arguments, expected exit code, a phrase the message must contain). DS is the images dataset.
# A recipe's errors are the one exception to "one line": they list every problem at once, each
# with file, line and key (RECIPE_ERRORS).
CASES = [
    ([], 2, "Usage: segcap"),
    (["no-such-command"], 2, "No such command"),
    (["--no-such-flag"], 2, "No such option"),
    (["demo", "--out", "a-file.txt"], 2, "is a file"),
    (["run", "missing.yaml"], 2, "does not exist"),
    (["run", "broken.yaml"], 2, "not valid YAML"),
    (["run", "recipe.yaml", "--bogus"], 2, "No such option"),
    (["serve", "recipe.yaml", "--cron", "every day"], 2, "not a cron expression"),
    (["serve", "recipe.yaml", "--cron", "0 3 * * *"], 2, "prefect server start"),
    (["serve", "recipe.yaml"], 2, "Missing option '--cron'"),
    (["ingest", "--format", "nope", "--source", "imgs", "--out", "x"], 2, "nope"),
    (["ingest", "--format", "coco", "--source", "missing.json", "--out", "x"], 2, "missing.json"),
    (["ingest", "--source", "imgs"], 2, "Missing option"),
    (["mine", "a-file.txt"], 2, "is a file"),
    (["mine", "DS", "--source", "bogus"], 2, "source"),
    (["mine", "DS", "--points", "many"], 2, "Invalid value for '--points'"),
    (["describe", "nowhere"], 2, "does not exist"),
    (["describe", "DS", "--backend", "vllm", "--model", "m"], 2, "'segcap-curator[vllm]'"),
    (["describe", "DS", "--backend", "openai"], 2, "--base-url"),
    (["score", "DS", "--backend", "rules"], 2, "no `instructions` config"),
    (["select", "DS", "--budget", "0.5", "--method", "mmssr"], 2, "no `instructions` config"),
    (["dedup", "a-file.txt"], 2, "is a file"),
    (["export", "nowhere", "--out", "e"], 2, "does not exist"),
    (["export", "DS", "--out", "e", "--format", "bogus"], 2, "bogus"),
    (["validate", "nowhere"], 2, "does not exist"),
    (["report", "nowhere"], 2, "does not exist"),
    (["report", "DS", "--out", "r.txt"], 2, ".html"),
    (["publish", "DS", "--repo-id", "no-slash"], 2, "ORG/NAME"),
    (["publish", "DS", "--repo-id", "org/name", "--dry-run"], 2, "does not pass validate"),
]

RECIPE_ERRORS = [["run", "broken.yaml"]]


def _check(result: subprocess.CompletedProcess, code: int, phrase: str, args: list[str]) -> None:
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown, f"segcap {' '.join(args)} printed a traceback:\n{shown}"
    assert result.returncode == code, f"segcap {' '.join(args)}: exit {result.returncode}\n{shown}"
    assert phrase in shown, f"segcap {' '.join(args)}: {phrase!r} not in\n{shown}"


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def segcap_in_process(args: list[str], cwd: Path, monkeypatch, capsys) -> Result:
    from flows import cli

    monkeypatch.chdir(cwd)
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("PREFECT_API_URL", "")
    monkeypatch.delenv("SEGCAP_TRACEBACK", raising=False)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    out = capsys.readouterr()
    return Result(exited.value.code, out.out, out.err)


@pytest.mark.parametrize(("args", "code", "phrase"), CASES, ids=[" ".join(c[0]) or "(none)" for c in CASES])
def test_bad_arguments_give_one_clear_line(workspace, args, code, phrase, monkeypatch, capsys):
    args = [str(workspace / "ds") if a == "DS" else a for a in args]
    result = segcap_in_process(args, workspace, monkeypatch, capsys)
    _check(result, code, phrase, args)
    if args:  # an error is ONE line, whole even in a 40-column terminal
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert errors and errors[0].startswith("error: "), result.stderr
        assert len(errors) == 1 or args[:2] in RECIPE_ERRORS, result.stderr


@pytest.mark.parametrize("args", [["mine", "a-file.txt"], ["serve", "recipe.yaml", "--cron", "every day"],
                                  ["describe", "DS", "--backend", "vllm", "--model", "m"]])
def test_a_real_process_prints_no_traceback(workspace, args):
    args = [str(workspace / "ds") if a == "DS" else a for a in args]
    result = segcap(*args, cwd=workspace)
    phrase = next(phrase for case, _, phrase in CASES
                  if [str(workspace / "ds") if a == "DS" else a for a in case] == args)
    _check(result, 2, phrase, args)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_every_registered_command_refuses_an_unknown_flag(capsys):
    """Commands added later are covered too (in-process through the same `main`, for speed)."""
    from flows import cli

    names = sorted(c.name or c.callback.__name__ for c in cli.app.registered_commands)
    assert {"demo", "run", "serve", "ingest", "mine", "describe", "score", "select", "dedup",
            "export", "validate", "report", "publish"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exited:
            cli.main([name, "--definitely-not-a-flag"])
        err = capsys.readouterr().err
        assert exited.value.code == 2, (name, err)
        assert err.startswith(f"error: segcap {name}: No such option") and err.count("\n") == 1, err


def test_long_paths_are_never_wrapped(workspace):
    result = segcap("report", str(workspace / "nope"), cwd=workspace)
    assert str(workspace / "nope") in result.stderr, result.stderr


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_short_and_long(workspace, flag):
    top = segcap(flag, cwd=workspace)
    assert top.returncode == 0 and "Commands:" in top.stdout and "\x1b[" not in top.stdout
    describe = segcap("describe", flag, cwd=workspace, env={"COLUMNS": "80"})
    assert describe.returncode == 0
    # nothing cut with an ellipsis at 80 columns: every option is there in full
    for option in ("--no-trust-remote-code", "http://localhost:8000/v1", "--batch-size"):
        assert option in describe.stdout
    assert "…" not in describe.stdout


def test_version(workspace):
    result = segcap("--version", cwd=workspace)
    assert result.returncode == 0 and result.stdout.startswith("segcap ")


def test_unexpected_failure_is_one_line_with_a_way_to_see_more(workspace, monkeypatch, capsys):
    """An exception no command anticipated still becomes one line and exit 1."""
    import typer

    from flows import cli

    probe = typer.Typer()

    @probe.command()
    def explode() -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli, "app", probe)
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: disk on fire second line" in err
    assert "SEGCAP_TRACEBACK=1" in err


def test_publish_without_network_is_one_line(workspace, tmp_path):
    """The issue's 222-line traceback: a publish whose Hub cannot be reached."""
    exported = segcap("export", "ds", "--out", str(tmp_path / "export"), cwd=workspace)
    assert exported.returncode == 0, exported.stderr
    result = segcap("publish", str(tmp_path / "export"), "--repo-id", "org/name", cwd=workspace,
                    env={"HF_TOKEN": "hf_not_a_token", "HF_ENDPOINT": "http://127.0.0.1:9",
                         "HF_HUB_OFFLINE": "0", "PREFECT_HOME": str(tmp_path / "prefect-home")})
    _check(result, 1, "cannot reach the Hugging Face Hub", ["publish", "(no network)"])
    assert len((result.stdout + result.stderr).strip().splitlines()) == 1, result.stdout + result.stderr
