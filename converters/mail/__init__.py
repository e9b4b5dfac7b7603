"""Mail, the sandboxed half: MIME split under limits, Japanese-correct headers and names. See docs/ARCHITECTURE.md.
"""
