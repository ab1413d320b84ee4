"""The rule styler on a labelled fixture covering all 9 styles, and sample checks."""

from __future__ import annotations

import pytest

from annotators.scoring.samples import SampleError, prepare
from annotators.scoring.styler import rule_styles
from schemas.contract import STYLES

LONG_ANSWER = " ".join(["The street is lined with old brick houses and tall trees."] * 8)

LABELLED = [
    ("Which animal is shown?\nA. cat\nB. dog\nC. horse\nAnswer with the option's letter "
     "from the given choices directly.", "A", {"multi-choice", "specified style"}),
    ("Give the bounding box of the red car.", "[0.12, 0.30, 0.55, 0.81]", {"coordinate"}),
    ("Where is the ball? Answer with a point.", "(120, 45)", {"coordinate"}),
    ("Is the man wearing a hat?", "Yes, he is.", {"yes/no"}),
    ("What is the cat sitting on?", "a red sofa", {"word/short-phrase"}),
    ("What is happening here?", "Two children are flying a kite in a park on a windy "
     "afternoon while their parents watch.", {"short description"}),
    ("Describe the image.", LONG_ANSWER, {"detailed description"}),
    ("What are the differences between the two dogs?", "The left dog is smaller and has "
     "a darker coat than the right one.", {"comparison", "short description"}),
    ("How many apples are left if Tom eats 2 of the 5? Think step by step.",
     "Step 1: there are 5 apples. Step 2: Tom eats 2. Therefore 3 apples are left.",
     {"chain-of-thought", "short description"}),
    ("Answer the question using a single word or phrase. What is the dog's color?", "brown",
     {"word/short-phrase", "specified style"}),
    ("Write a haiku about this photo.", "Quiet morning lake / a heron waits in the mist / "
     "ripples fade to gold", {"specified style", "short description"}),
]


@pytest.mark.parametrize(("question", "answer", "expected"), LABELLED)
def test_rule_styler_labels(question, answer, expected):
    sample = prepare([{"from": "human", "value": "<image>\n" + question},
                      {"from": "gpt", "value": answer}])
    assert set(rule_styles(sample)) == expected


def test_fixture_covers_all_nine_styles():
    assert set().union(*(e for _, _, e in LABELLED)) == set(STYLES)


def test_multi_turn_styles_are_the_union_in_canonical_order():
    sample = prepare([{"from": "human", "value": "Is it raining?"}, {"from": "gpt", "value": "No."},
                      {"from": "human", "value": "What is the weather?"}, {"from": "gpt", "value": "sunny"}])
    assert rule_styles(sample) == ["yes/no", "word/short-phrase"]


@pytest.mark.parametrize(("conversation", "reason"), [
    ([], "empty_conversation"),
    ([{"from": "human", "value": "What is this?"}], "no_answer"),
    ([{"from": "human", "value": "What?"}, {"from": "gpt", "value": "   "}], "empty_turn"),
    ([{"from": "human", "value": "What?"}, {"from": "gpt", "value": 5}], "non_string_turn"),
    ([{"from": "human", "value": "bad \udcff byte"}, {"from": "gpt", "value": "x"}], "non_utf8_text"),
    ([{"from": "robot", "value": "hi"}, {"from": "gpt", "value": "x"}], "unknown_role"),
])
def test_unusable_conversations_name_their_reason(conversation, reason):
    with pytest.raises(SampleError) as error:
        prepare(conversation)
    assert error.value.reason == reason


def test_long_turn_is_truncated_and_recorded():
    sample = prepare([{"from": "human", "value": "x" * 100_000}, {"from": "gpt", "value": "ok"}],
                     max_turn_chars=8000)
    assert len(sample.questions[0]) == 8000
    assert sample.notes == ["turn 0 truncated from 100000 to 8000 chars"]
    assert sample.values == ["x" * 8000, "ok"]
