"""Which text of a conversation the grounding markers, masks and phrase spans refer to."""

from __future__ import annotations


def answer_text(conversations: list[dict]) -> str:
    """The answer: the gpt turns joined by newlines (for the usual one-answer sample, that turn).

    `phrase_spans` are character offsets into this text and the k-th `[SEG]` in it is the k-th mask.
    """
    return "\n".join(turn["value"] for turn in conversations if turn.get("from") == "gpt")
