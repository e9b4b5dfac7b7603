"""The pipeline: one spooled job at a time, disarmed in the sandbox, its outputs validated and re-checked by the
inspector, then handed to delivery. See docs/ARCHITECTURE.md.
"""
