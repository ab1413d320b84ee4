"""Every command's flags come from its options model: name, default, help, choices, bool switches.

The model is the one place a setting is declared, so these tests read the model and check the
command against it (a new field shows up on the command line without touching a command).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from pydantic_core import PydanticUndefined
from typer.testing import CliRunner

from flows.cli import app
from flows.options_cli import model_command, model_flags, stage_command
from pipelines.stages.dedup import DedupStage
from pipelines.stages.describe import DescribeStage
from pipelines.stages.mine import MineStage
from pipelines.stages.score import ScoreStage
from pipelines.stages.select import SelectStage
from pipelines.stages.verify import VerifyStage
from schemas.options.ingest import IngestOptions
from schemas.options.report import ReportOptions

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
COMMAND_MODELS = {"mine": MineStage.options_model, "describe": DescribeStage.options_model,
                  "score": ScoreStage.options_model, "select": SelectStage.options_model,
                  "dedup": DedupStage.options_model, "verify": VerifyStage.options_model,
                  "ingest": IngestOptions, "report": ReportOptions}
STAGES = {"mine": MineStage, "describe": DescribeStage, "score": ScoreStage,
          "select": SelectStage, "dedup": DedupStage, "verify": VerifyStage}


def help_of(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def squeezed(text: str) -> str:
    """Without whitespace: help wraps long lines, sometimes inside a hyphenated word."""
    return "".join(text.split())


@pytest.mark.parametrize("command", sorted(COMMAND_MODELS))
def test_help_lists_every_flag_with_its_description_and_default(command):
    shown = squeezed(help_of(command))
    for flag in model_flags(COMMAND_MODELS[command]):
        assert flag.name in shown, (command, flag.name)
        assert squeezed(flag.help) in shown, (command, flag.name)
        if flag.switch or flag.inverted or flag.parse or flag.default in (None, PydanticUndefined):
            continue
        assert squeezed(f"{flag.help} [default: {flag.default}]") in shown, (command, flag.name)


@pytest.mark.parametrize("command", sorted(STAGES))
def test_batch_size_default_is_the_stage_class_default(command):
    shown = help_of(command)
    assert f"--batch-size <int> rows of `{STAGES[command].input_config}` per batch" in shown
    assert f"[default: {STAGES[command].default_batch_size}]" in shown.split("--batch-size")[1]


def test_existing_flag_names_and_defaults_are_kept():
    mine = help_of("mine")
    for text in ("--min-area <int>", "[default: 64]", "--max-pixels <int>", "[default: 4194304]",
                 "--model <str>", "--divide <superpixel|sam|gt>", "--feature-model <str>"):
        assert text in mine
    describe = help_of("describe")
    for text in ("--cache <str>", "--no-cache", "--tasks <str>", "--no-trust-remote-code"):
        assert text in describe
    dedup = help_of("dedup")
    for text in ("--no-exact", "--no-near-images", "--no-semantic", "--clusters <int>"):
        assert text in dedup
    assert "--tau <float>" in help_of("select") and "--threshold <float>" in help_of("verify")
    ingest = help_of("ingest")
    assert "-f, --format" in ingest and "--no-embed" in ingest and "--out <path>" in ingest


def test_nested_fields_need_a_declared_flag():
    names = {f.name for f in model_flags(MineStage.options_model)}
    assert {"--model", "--divide", "--feature-model"} <= names
    assert "--n-segments" not in names and "--points-per-side" not in names  # undeclared: not flags
    assert {f.name: f.paths for f in model_flags(MineStage.options_model)}["--divide"] == [("unsamv2", "divide")]


def test_a_field_kept_off_the_command_line():
    assert "--created-at" not in {f.name for f in model_flags(VerifyStage.options_model)}


class Probe(BaseModel):
    level: int = Field(3, ge=1, description="how deep")
    mode: Literal["fast", "slow"] = Field("fast", description="speed")
    keep: bool = Field(True, description="keep it", json_schema_extra={"flag": "--no-keep"})
    loud: bool = Field(False, description="shout")
    words: list[str] = Field(default_factory=lambda: ["a"], description="words",
                             json_schema_extra={"parse": "comma_list"})
    depth: int = Field(8, ge=1, description="model batch", json_schema_extra={"flag": "--batch-size"})


class ProbeStage:
    options_model = Probe
    input_config = "images"
    default_batch_size = 5


def probe_app():
    import typer

    probe = typer.Typer()
    seen = {}

    @stage_command(probe, "probe", ProbeStage)
    def probe_command(options, batch_size: int) -> None:
        seen.update(options.model_dump(), batch_size=batch_size)

    @probe.command("other")
    def other() -> None:  # a second command keeps `probe` a subcommand
        pass

    return probe, seen


def test_parsed_flags_become_the_validated_model():
    probe, seen = probe_app()
    result = runner.invoke(probe, ["probe"])
    assert result.exit_code == 0, result.output
    assert seen == {"level": 3, "mode": "fast", "keep": True, "loud": False, "words": ["a"],
                    "depth": 5, "batch_size": 5}
    result = runner.invoke(probe, ["probe", "--level", "4", "--mode", "slow", "--no-keep", "--loud",
                                   "--words", "x, y", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert seen == {"level": 4, "mode": "slow", "keep": False, "loud": True, "words": ["x", "y"],
                    "depth": 2, "batch_size": 2}


def test_a_refused_value_is_one_line_naming_the_flag():
    probe, _ = probe_app()
    result = runner.invoke(probe, ["probe", "--level", "0"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --level 0: Input should be greater than or equal to 1"]
    result = runner.invoke(probe, ["probe", "--mode", "medium"])
    assert result.exit_code == 2 and "--mode" in result.output


def test_an_undeclared_flag_clash_is_refused_when_the_command_is_built():
    import typer

    class Clash(BaseModel):
        batch_size: int = 3  # the stage's --batch-size, not declared as shared

    class ClashStage(ProbeStage):
        options_model = Clash

    with pytest.raises(TypeError, match="--batch-size"):
        stage_command(typer.Typer(), "clash", ClashStage)(lambda options, batch_size: None)
    with pytest.raises(TypeError, match="needs json_schema_extra parse"):
        class Odd(BaseModel):
            pairs: dict[str, int] = {}

        model_command(typer.Typer(), "odd", Odd)


def test_pipelines_has_no_command_line_code():
    """typer and rich's console stay out of the data plane (the engine's progress bar aside)."""
    allowed = {REPO / "pipelines" / "engine" / "progress.py"}
    for path in (REPO / "pipelines").rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.split(".")[0] in ("typer", "click", "rich") for n in names), path
