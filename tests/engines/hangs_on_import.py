"""An engine whose module never finishes importing: a training loop left at the top level."""

from __future__ import annotations

from correct import Value

steps = 0
while steps >= 0:  # meant to stop when the loss is small enough; it never does
    steps += 1

__all__ = ["Value"]
