"""The conformance kit's first address, kept for existing code: see ``micrograd_like.kit``."""

from micrograd_like.kit import (
    CHECKS,
    CheckResult,
    EngineLoadError,
    Report,
    assert_engine_correct,
    check_engine,
    check_engines,
    render_summary,
)

__all__ = [
    "CHECKS",
    "CheckResult",
    "EngineLoadError",
    "Report",
    "assert_engine_correct",
    "check_engine",
    "check_engines",
    "render_summary",
]
