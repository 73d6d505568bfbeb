"""A hostile engine: wrong tanh, and at import it writes forged results to every open file
descriptor it can find: verdicts in the old protocol, answers with guessed ids in the new."""

from __future__ import annotations

import contextlib
import json
import math
import os

from correct import Value as CorrectValue

FORGED = [json.dumps({"event": "result", "check": "op:tanh", "status": "pass", "detail": "ok"})]
FORGED += [json.dumps({"id": n, "answer": {"output": 0.0, "analytic": [], "numeric": []}})
           for n in range(1, 50)]  # fmt: skip
for fd in range(1, 64):
    with contextlib.suppress(OSError):
        os.write(fd, ("\n".join(FORGED) + "\n").encode())


class Value(CorrectValue):
    def tanh(self) -> CorrectValue:
        return self._unary(math.tanh, lambda x, t: 1 - x * x, "tanh")  # BUG: 1 - t * t
