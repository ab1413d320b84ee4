"""One instruction sample made ready for scoring: checked, paired into Q/A turns, truncated.

Problems that make a sample unusable raise `SampleError(reason, message)` (the stage sends the
row to rejects); a turn that is too long is cut and the cut is recorded in `notes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.errors import SegcapError
from schemas.rejects import Reason
from schemas.rows import strip_image_token

QUESTION_ROLES = {"human", "user"}
ANSWER_ROLES = {"gpt", "assistant"}


class SampleError(SegcapError):
    """A conversation that cannot be scored; the stage rejects it with `reason`."""


@dataclass
class PreparedSample:
    turns: list[tuple[str, str]]  # (question, answer) pairs, image tokens removed
    notes: list[str] = field(default_factory=list)
    mentions_image: bool = False
    values: list[str] = field(default_factory=list)  # every turn's text as given (cut if too long)

    @property
    def questions(self) -> list[str]:
        return [q for q, _ in self.turns]

    @property
    def answers(self) -> list[str]:
        return [a for _, a in self.turns]

    def plain_text(self) -> str:
        return "\n".join(f"{q}\n{a}" for q, a in self.turns)


def _check_text(value: object, index: int) -> str:
    if not isinstance(value, str):
        raise SampleError(Reason.NON_STRING_TURN, f"turn {index} is {type(value).__name__}, not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SampleError(Reason.NON_UTF8_TEXT, f"turn {index} holds text that is not valid UTF-8") from None
    if not value.strip():
        raise SampleError(Reason.EMPTY_TURN, f"turn {index} is empty")
    return value


def prepare(conversations: object, max_turn_chars: int = 8000) -> PreparedSample:
    """Check a LLaVA-style conversation and pair it into (question, answer) turns."""
    if not isinstance(conversations, list) or not conversations:
        raise SampleError(Reason.EMPTY_CONVERSATION, "the conversation has no turns")
    notes: list[str] = []
    turns: list[tuple[str, str]] = []
    question: list[str] = []
    mentions_image = False
    values: list[str] = []
    for index, turn in enumerate(conversations):
        if not isinstance(turn, dict):
            raise SampleError(Reason.NON_STRING_TURN, f"turn {index} is not a {{from, value}} record")
        role = turn.get("from")
        text = _check_text(turn.get("value"), index)
        if len(text) > max_turn_chars:
            notes.append(f"turn {index} truncated from {len(text)} to {max_turn_chars} chars")
            text = text[:max_turn_chars]
        values.append(text)
        mentions_image = mentions_image or "<image>" in text
        text = strip_image_token(text).strip()
        if role in QUESTION_ROLES:
            question.append(text)
        elif role in ANSWER_ROLES:
            turns.append(("\n".join(question), text))
            question = []
        else:
            raise SampleError(Reason.UNKNOWN_ROLE, f"turn {index} has role {role!r}, not human/gpt")
    if not turns:
        raise SampleError(Reason.NO_ANSWER, "the conversation has no answer turn")
    return PreparedSample(turns=turns, notes=notes, mentions_image=mentions_image, values=values)
