"""An engine file that is also a script, and calls sys.exit() at import (no main guard)."""

from __future__ import annotations

import sys

from correct import Value

print("training...")
sys.exit(1)

__all__ = ["Value"]
