"""The programs behind ``python -m micrograd_like demo | draw | bench | check-engine``.

They use the library and the library never imports them.
"""
