"""mmSSR's scorer and styler prompts and answer parsing, byte for byte as the released code.

Reference: lyumengyao/mmssr, config/ss.py (queries, separators) and llava/eval/model_ss.py
(`format_convs`, system prompt). The released scorers were fine-tuned on exactly these strings,
so every quirk is kept, including `q.strip("Question: ")`, which strips any of the characters
"Q u e s t i o n : " and space from both ends (so "Describe the station" -> "Describe the sta").
The `<image>` token stays in the text where the user's data has it.
"""

from __future__ import annotations

import json

from schemas.contract import CAPABILITIES, CAPABILITY_FIELDS
from schemas.provenance import prompt_sha256

SYSTEM_PROMPT = "You are a helpful assistant."
SEPARATORS = (" ", "\n")
STYLE_CANDIDATES = (
    "multi-choice", "coordinate", "yes/no", "word/short-phrase", "short description",
    "detailed description", "comparison", "chain-of-thought (step-by-step)", "specified style",
)
STYLE_QUERY = ("Interaction style candidates:" + SEPARATORS[0] + f"[{', '.join(STYLE_CANDIDATES)}]"
               + SEPARATORS[1] + "Styles: ")
CAPABILITY_QUERY = ("On a scale of 0 to 5, how do you rate the helpfulness of the VQA instance in "
                    "training a Multimodal Large Language Model for {cap_keyword}?")
SCORE_RANGE = (0, 5)
PROMPT_ID = "mmssr-ss"  # the released config/ss.py prompts, scorer and styler


def serialise(values: list[str]) -> str:
    """`format_convs`: turn values in order; even positions are questions, the next one answers."""
    pairs = []
    for index in range(0, len(values), 2):
        question = values[index]
        if question.startswith("<image>\nHint:") or question.startswith("Hint:"):
            text = question
        else:
            text = f"Question: {question.strip('Question: ')}"
        text += SEPARATORS[0] + "Answer: "
        if index != len(values) - 1:
            text += values[index + 1]
        pairs.append(text)
    return SEPARATORS[1].join(pairs)


def scorer_prompt(values: list[str], cap_keyword: str) -> str:
    return serialise(values) + SEPARATORS[1] + CAPABILITY_QUERY.replace("{cap_keyword}", cap_keyword)


def styler_prompt(values: list[str]) -> str:
    return serialise(values) + SEPARATORS[1] + STYLE_QUERY


def parse_score(text: str) -> tuple[int | None, str | None]:
    """Strict, as the reference's `parse_score(x, int)`: Python `int(text)` (whitespace, sign and
    Unicode digits accepted), anything else unparseable. Integers outside 0-5 parse but are kept
    out of selection: (None, reason) for both."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None, f"unparseable_score: {str(text)[:80]!r}"
    if not SCORE_RANGE[0] <= value <= SCORE_RANGE[1]:
        return None, f"out_of_scale_score: {value}"
    return value, None


def parse_styles(text: str) -> list[str]:
    """The reference's `parse_sty`: split on ",", strip each piece, distinct pieces in order."""
    styles: list[str] = []
    for piece in text.split(","):
        if piece.strip() not in styles:
            styles.append(piece.strip())
    return styles


def capability_keywords(overrides: dict[str, str] | None = None) -> list[str]:
    """The `{cap_keyword}` of each capability, in contract order: the lower-case capability name
    unless overridden (keys: capability name or its snake_case field). Which keywords the released
    scorer was trained with is not in its repository, hence configurable."""
    overrides = dict(overrides or {})
    known = set(CAPABILITIES) | set(CAPABILITY_FIELDS)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown capabilities in the keyword map: {unknown}; known: "
                         f"{', '.join(CAPABILITY_FIELDS)}")
    return [overrides.get(field, overrides.get(name, name.lower()))
            for name, field in zip(CAPABILITIES, CAPABILITY_FIELDS, strict=True)]


def prompt_fingerprint(keywords: list[str]) -> str:
    """sha256 of everything that makes up the prompts (system, both queries, separators, keywords)."""
    return prompt_sha256(json.dumps({"system": SYSTEM_PROMPT, "capability_query": CAPABILITY_QUERY,
                                     "style_query": STYLE_QUERY, "separators": SEPARATORS,
                                     "keywords": keywords}, sort_keys=True))
