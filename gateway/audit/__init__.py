"""The audit log: tamper-evident records of every transfer, in SQLite or PostgreSQL. See docs/ARCHITECTURE.md.
"""
