"""The ``gateway`` command line, one module per command group (docs/CONTRACT.md). See docs/ARCHITECTURE.md.
"""
