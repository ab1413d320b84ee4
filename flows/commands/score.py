"""`segcap score`: capability scores and interaction styles for `instructions`.

Flags come from ScoreOptions (flows/options_cli.py); `--capability-keywords` reads its JSON file.
The command is the shared scaffolding (`any_stage.register_stage`) plus the judge-answer check.
"""

from __future__ import annotations

import typer

from flows.commands.any_stage import register_stage
from flows.commands.stage_run import run_on_instructions
from pipelines.stages.score import ScoreStage

# More null scores than this share of the judge's answers means the judge is not answering the
# question asked (wrong model or server): the run is reported as failed.
MAX_NULL_SHARE = 0.5


def register(app: typer.Typer) -> None:
    register_stage(app, ScoreStage, run=run_on_instructions, summary=_summary,
                   doc="Score every sample on the 14 mmSSR capabilities (0-5) and tag its styles.")


def _summary(stage: ScoreStage, stats, directory) -> None:
    from flows.commands.common import console, fail
    from flows.commands.stage_run import print_model_summary

    print_model_summary(stage, stats)
    counts = stats.counters
    null = counts.get("scores_null", 0)
    answered = counts.get("scores_parsed", 0) + counts.get("scores_from_logprobs", 0) + null
    if answered:
        console.print(f"scores: {answered - null} usable, {null} null ("
                      f"{counts.get('scores_unparseable_score', 0)} unparseable, "
                      f"{counts.get('scores_out_of_scale_score', 0)} out of 0-5, "
                      f"{counts.get('scores_backend_error', 0)} backend errors)")
        if null > MAX_NULL_SHARE * answered:
            fail(f"score on {directory}: {null} of {answered} judge answers gave no 0-5 integer; "
                 "check that --model is an mmSSR-style scorer (see scoring_notes)", code=1)
