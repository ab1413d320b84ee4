"""The rule-based styler: the 9 mmSSR interaction styles (multi-label) from surface cues.

Each rule looks at the questions and answers of a prepared sample. The answer-length buckets
(word/short-phrase, short description, detailed description) apply to answers that no
format rule (multi-choice, coordinate, yes/no) already explains.
"""

from __future__ import annotations

import re

from annotators.scoring.samples import PreparedSample
from schemas.contract import STYLES

SHORT_PHRASE_MAX_WORDS = 5
SHORT_DESCRIPTION_MAX_WORDS = 60

_OPTION_LINE = re.compile(r"(?m)^\s*(?:\(?[A-Ha-h][.)]|\(?[1-9][.)])\s+\S")
_OPTIONS_CUE = re.compile(r"\b(options?|choices?)\s*:|\bfrom the (given|following) (choices|options)\b",
                          re.I)
_LETTER_ANSWER = re.compile(r"^\s*\(?[A-H]\)?(?:[.:)]\s*.*)?$", re.S)
_NUMBER = r"-?\d+(?:\.\d+)?"
_BOX = re.compile(rf"[\[(]\s*{_NUMBER}\s*(?:,\s*{_NUMBER}\s*){{1,3}}[\])]")
_COORDINATE_CUE = re.compile(r"\b(bounding box|coordinates?|bbox|x\s*,\s*y)\b", re.I)
_YES_NO = re.compile(r"^\s*(yes|no)\b", re.I)
_COMPARISON_CUE = re.compile(
    r"\b(compare|comparison|compared|differences?|differ|similarit(?:y|ies)|similar|versus|vs\.?"
    r"|both|which (?:one|of the two)|(?:more|less|\w+er) than)\b", re.I)
_COT_CUE = re.compile(
    r"step[- ]by[- ]step|\bstep \d|\blet'?s think\b|\breason(?:ing)? (?:it )?through\b"
    r"|\bfirst\b.{0,200}\b(?:then|next|finally)\b|\btherefore\b|\bthus\b|\bso the answer\b",
    re.I | re.S)
_NUMBERED_STEPS = re.compile(r"(?m)^\s*(?:step\s*)?\d[.)]\s+\S")
_FORMAT_CUE = re.compile(
    r"\b(?:answer|respond|reply|write)\b[^.?!\n]{0,40}\b(?:single word|one word|a word or phrase"
    r"|in (?:one|a single|\d+|two|three) (?:sentence|sentences|words?)|in json|as json|as a list"
    r"|with the option'?s letter|in (?:the )?(?:style|tone|format) of|in [a-z]+ format)"
    r"|\b(?:in|using) (?:markdown|json|bullet points|a table)\b|\bformat (?:your|the) answer\b"
    r"|\b(?:write|compose) a (?:poem|haiku|tweet|story|limerick|song)\b"
    r"|\bno more than \d+ words\b|\bdirectly\.?$",
    re.I | re.M)


def _words(text: str) -> int:
    return len(text.split())


def _is_multi_choice(question: str, answer: str) -> bool:
    options = len(_OPTION_LINE.findall(question))
    return options >= 2 or bool(_OPTIONS_CUE.search(question)) or (
        options >= 1 and bool(_LETTER_ANSWER.match(answer)) and _words(answer) <= 3)


def _is_coordinate(question: str, answer: str) -> bool:
    return bool(_BOX.search(answer)) or (bool(_COORDINATE_CUE.search(question))
                                         and bool(re.search(_NUMBER, answer)))


def _has_chain_of_thought(question: str, answer: str) -> bool:
    return (bool(_COT_CUE.search(question)) or bool(_COT_CUE.search(answer))
            or len(_NUMBERED_STEPS.findall(answer)) >= 2)


def _length_style(answer: str) -> str:
    words = _words(answer)
    if words <= SHORT_PHRASE_MAX_WORDS:
        return "word/short-phrase"
    if words <= SHORT_DESCRIPTION_MAX_WORDS:
        return "short description"
    return "detailed description"


def rule_styles(sample: PreparedSample) -> list[str]:
    """The styles of a sample, in the canonical order of `STYLES`."""
    found: set[str] = set()
    for question, answer in sample.turns:
        formatted = False
        if _is_multi_choice(question, answer):
            found.add("multi-choice")
            formatted = True
        if _is_coordinate(question, answer):
            found.add("coordinate")
            formatted = True
        if _YES_NO.match(answer) and _words(answer) <= SHORT_PHRASE_MAX_WORDS + 10:
            found.add("yes/no")
            formatted = True
        if not formatted:
            found.add(_length_style(answer))
        if _COMPARISON_CUE.search(question):
            found.add("comparison")
        if _has_chain_of_thought(question, answer):
            found.add("chain-of-thought")
        if _FORMAT_CUE.search(question):
            found.add("specified style")
    return [s for s in STYLES if s in found]

