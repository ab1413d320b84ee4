"""The one error base for input a stage refuses: it carries the `Reason` its reject gets.

Readers, decoders and checks raise a subclass (ImageError, MaskError, ItemError, ...) for bad
input; a stage catches `SegcapError` and turns it into one reject with `exc.reason`. Any other
exception is a bug, never bad input. It subclasses ValueError so callers that already treat
bad values as ValueError keep working.
"""

from __future__ import annotations

from schemas.rejects import Reason


class SegcapError(ValueError):
    """Bad input, with the reason it is rejected for; str() is "reason: message"."""

    def __init__(self, reason: Reason | str, message: str):
        self.reason = Reason(reason)  # an unknown reason is a bug here, not at reject time
        self.message = message
        super().__init__(f"{self.reason}: {message}")
