"""The sandbox: bubblewrap, rlimits and seccomp around every parse of untrusted bytes, a warm zygote, and crash
diagnostics. See docs/ARCHITECTURE.md.
"""
