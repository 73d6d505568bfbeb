"""An engine whose module crashes the interpreter when imported (a segmentation fault)."""

from __future__ import annotations

import ctypes

ctypes.string_at(0)  # reads address 0: the process dies with SIGSEGV


class Value:
    def __init__(self, data: float) -> None:
        self.data = data
        self.grad = 0.0
