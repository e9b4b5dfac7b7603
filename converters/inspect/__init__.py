"""The independent inspector: re-checks every output with its own reading; imports nothing from ``converters.formats``
(tests/converters/inspect/test_independence.py). See docs/ARCHITECTURE.md.
"""
