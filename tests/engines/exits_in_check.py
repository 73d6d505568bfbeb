"""An engine that ends the process from inside ops: sys.exit() in relu, os._exit() in tanh."""

from __future__ import annotations

import os
import sys

from correct import Value as CorrectValue


class Value(CorrectValue):
    def relu(self) -> CorrectValue:
        sys.exit("relu: not implemented yet")

    def tanh(self) -> CorrectValue:
        os._exit(3)
