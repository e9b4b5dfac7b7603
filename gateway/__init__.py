"""The 無害化 gateway service: intake, sandboxed disarm pipeline, verification, delivery, audit."""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)
