"""A hostile engine: prints terminal escape codes, and its exp raises with them in the message."""

from __future__ import annotations

import sys

from correct import Value as CorrectValue

CLEAR_SCREEN = "\x1b[2J\x1b[H"
print(CLEAR_SCREEN + "\x1b]0;pwned\x07", end="")
print(CLEAR_SCREEN, end="", file=sys.stderr)


class Value(CorrectValue):
    def exp(self) -> CorrectValue:
        raise ValueError(CLEAR_SCREEN + "\x1b[31mred alert\x1b[0m")
