"""The words a verifier can check: colour, size, position, number and category words.

A phrase is read as lower-case word tokens; each lexicon maps surface words to the canonical
value the evidence is measured in (a colour prototype name, a step on the size scale, a side of
the image). Words outside every lexicon are not checked, so they can never cause a fail.
"""

from __future__ import annotations

import re
from functools import lru_cache

from annotators.describe.evidence import COLOUR_PROTOTYPES
from schemas.grounding import text_label

# Synonyms map onto the 12 basic colour prototypes the evidence measures.
COLOUR_WORDS: dict[str, str] = {name: name for name in COLOUR_PROTOTYPES} | {
    "gray": "grey", "silver": "grey", "violet": "purple", "navy": "blue", "maroon": "red",
    "crimson": "red", "scarlet": "red", "teal": "cyan", "turquoise": "cyan", "golden": "yellow",
    "gold": "yellow", "tan": "brown", "beige": "brown", "magenta": "pink",
}
# Ordered scale, as `evidence.size_word` assigns it: tiny < small < medium < large < very large.
SIZE_STEPS: dict[str, int] = {"tiny": 0, "small": 1, "little": 1, "medium-sized": 2,
                              "medium": 2, "large": 3, "big": 3, "huge": 4, "very large": 4}
SIDE_WORDS: dict[str, str] = {"left": "left", "right": "right", "top": "top", "upper": "top",
                              "bottom": "bottom", "lower": "bottom", "centre": "centre",
                              "center": "centre", "middle": "centre"}
NUMBER_WORDS: dict[str, int] = {"no": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                                "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}

_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def colour_words(text: str) -> list[str]:
    return list(dict.fromkeys(COLOUR_WORDS[t] for t in tokens(text) if t in COLOUR_WORDS))


def size_steps(text: str) -> list[int]:
    lowered = text.lower()
    if "very large" in lowered:
        return [SIZE_STEPS["very large"]]
    return list(dict.fromkeys(SIZE_STEPS[t] for t in tokens(text) if t in SIZE_STEPS))


def side_words(text: str) -> list[str]:
    return list(dict.fromkeys(SIDE_WORDS[t] for t in tokens(text) if t in SIDE_WORDS))


def category_text(name: str | None) -> str:
    """A dataset class name as lower-case words (`schemas.grounding.text_label`, the captions'
    rule), with "-" as a space so "traffic-light" matches "traffic light"."""
    return (text_label(name) or "").lower().replace("-", " ") if name else ""


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


@lru_cache(maxsize=4096)
def _category_words(category: str) -> tuple[str, ...]:
    return tuple(singular(w) for w in category_text(category).split())


def _contains(words: list[str], wanted: tuple[str, ...]) -> bool:
    n = len(wanted)
    return bool(n) and any(tuple(words[i:i + n]) == wanted for i in range(len(words) - n + 1))


def mentions(text: str, category: str) -> bool:
    """Whether `text` names `category` (whole words, singular or plural)."""
    return _contains([singular(t) for t in tokens(text)], _category_words(category))


def mentioned(text: str, vocabulary: list[str]) -> list[str]:
    """The vocabulary categories `text` names (the text is read once)."""
    found = [singular(t) for t in tokens(text)]
    return [c for c in vocabulary if _contains(found, _category_words(c))]


def counted_categories(sentence: str, vocabulary: list[str]) -> dict[str, int]:
    """"showing one car and two trees" -> {"car": 1, "tree": 2} for vocabulary categories."""
    words = tokens(sentence)
    found: dict[str, int] = {}
    for i, word in enumerate(words[:-1]):
        number = NUMBER_WORDS.get(word, int(word) if word.isdigit() else None)
        if number is None:
            continue
        for category in vocabulary:
            wanted = [singular(w) for w in category_text(category).split()]
            following = [singular(w) for w in words[i + 1:i + 1 + len(wanted)]]
            if wanted and following == wanted:
                found[category] = found.get(category, 0) + number
                break
    return found
