"""`segcap verify`: a verdict for every grounded phrase and every description.

Flags come from VerifyOptions (flows/options_cli.py); `--max-fail-share` is the command's own:
a check of the result, not a setting of the stages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.options_cli import stage_command
from pipelines.stages.verify import VerifyDescriptionsStage, VerifyStage

# `segcap verify` runs the verify_descriptions stage too (on `descriptions`).
ALSO_RUNS = ("verify_descriptions",)


def register(app: typer.Typer) -> None:
    @stage_command(app, "verify", VerifyStage)
    def verify_command(
        directory: Annotated[Path, typer.Argument(help="dataset directory with `segcap` and/or `descriptions`")],
        options, batch_size: int,
        max_fail_share: Annotated[float | None, typer.Option(
            help="exit 1 when more than this share of the checked phrases fails")] = None,
    ) -> None:
        """Check each phrase against its mask and each description against its target."""
        from flows.commands.common import existing_dataset, fail, print_summary
        from pipelines.engine.runner import run_stage

        dataset = existing_dataset(directory)
        stages = [cls for cls, config in ((VerifyStage, "segcap"),
                                          (VerifyDescriptionsStage, "descriptions"))
                  if dataset.has(config)]
        if not stages:
            fail(f"{directory} has neither `segcap` nor `descriptions`; run `segcap describe` first")
        verdicts: dict[str, int] = {}
        for cls in stages:
            try:
                stats = run_stage(cls(batch_size=batch_size, **options.model_dump()), dataset)
            except (OSError, ValueError, ImportError) as exc:
                fail(f"verify on {directory} with the {options.verifier} verifier: {exc}", code=1)
            print_summary(stats)
            for key in ("pass", "fail", "unsure"):
                verdicts[key] = verdicts.get(key, 0) + stats.counters.get(f"verify_{key}", 0)
            reasons = {k.removeprefix("verify_fail_"): v for k, v in stats.counters.items()
                       if k.startswith("verify_fail_")}
            typer.echo(f"  {cls.name}: {stats.counters.get('verify_pass', 0)} pass, "
                       f"{stats.counters.get('verify_fail', 0)} fail, "
                       f"{stats.counters.get('verify_unsure', 0)} unsure"
                       + (f"; failed checks: {reasons}" if reasons else ""))
        checked = verdicts.get("pass", 0) + verdicts.get("fail", 0) + verdicts.get("unsure", 0)
        share = verdicts.get("fail", 0) / checked if checked else 0.0
        if max_fail_share is not None and share > max_fail_share:
            fail(f"{share:.1%} of {checked} checked phrases and descriptions failed "
                 f"(more than --max-fail-share {max_fail_share}); see the `verification` column",
                 code=1)
