"""File disarm library: one converter per format family, type detection by content, and an
independent inspector. Usable as a library and as ``python -m converters`` (the sandbox child).

This package never imports ``gateway``.
"""
