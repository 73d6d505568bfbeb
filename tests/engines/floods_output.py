"""A hostile engine: relu prints without end (tens of megabytes), as a debugging print left in
a loop would."""

from __future__ import annotations

import sys

from correct import Value as CorrectValue

LINE = "x" * 1023 + "\n"


class Value(CorrectValue):
    def relu(self) -> CorrectValue:
        for _ in range(40_000):  # 40 MB
            sys.stdout.write(LINE)
        return super().relu()
