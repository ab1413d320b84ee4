"""How much of a step's model output the model did not give, and when that fails the step.

The counters are the ones backends and `ask_all` keep (`Backend.counters`, summed per step into
stats.json): answers by source (model_answers, template_fallbacks, answers_rejected) where a
stage asks through `ask_all` (describe), else requests and failed_requests (the LMM judge, whose
failed request becomes a null score). A step whose share of answers not given by the model is
above `max_fallback_share` has produced something other than what was asked: the command exits
non-zero with the counts, so a dataset of template text never passes for a model's.
"""

from __future__ import annotations

from collections.abc import Mapping

ANSWER_KEYS = ("model_answers", "template_fallbacks", "answers_rejected")


def shortfall(counters: Mapping[str, int]) -> tuple[int, int, str]:
    """(answers the model did not give, all answers, what was counted)."""
    if any(counters.get(key) for key in ANSWER_KEYS):
        bad = int(counters.get("template_fallbacks", 0)) + int(counters.get("answers_rejected", 0))
        return bad, bad + int(counters.get("model_answers", 0)), "answers"
    return int(counters.get("failed_requests", 0)), int(counters.get("requests", 0)), "requests"


def shortfall_problem(step: str, counters: Mapping[str, int], max_share: float) -> str | None:
    """A one-line failure naming the counts, or None when the share is within `max_share`."""
    bad, total, unit = shortfall(counters)
    if total == 0 or bad / total <= max_share:
        return None
    return (f"{step}: {bad} of {total} model {unit} ({bad / total:.0%}) were not the model's "
            f"({_details(counters)}), above --max-fallback-share {max_share:g}; the step is not "
            "marked done and replaces no earlier output: fix the model server or its options and rerun")


def shortfall_summary(step: str, counters: Mapping[str, int]) -> str | None:
    """One line for the command's summary: model answers, fallbacks, failures by kind."""
    bad, total, unit = shortfall(counters)
    if total == 0:
        return None
    return f"{step}: {total - bad} of {total} model {unit} used ({_details(counters)})"


def _details(counters: Mapping[str, int]) -> str:
    parts = [f"{counters.get(key, 0)} {key.replace('_', ' ')}"
             for key in ("template_fallbacks", "answers_rejected", "failed_requests")
             if counters.get(key)]
    failed = sorted((key.removeprefix("failed_attempts_"), value) for key, value in counters.items()
                    if key.startswith("failed_attempts_") and value)
    if failed:
        parts.append("failed attempts: " + ", ".join(f"{kind} {n}" for kind, n in failed))
    return "; ".join(parts) or "no failures"
