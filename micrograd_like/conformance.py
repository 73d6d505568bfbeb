"""The conformance kit's first address, kept for existing code: see ``micrograd_like.kit``."""

from micrograd_like.kit import *  # noqa: F403
from micrograd_like.kit import __all__ as __all__
