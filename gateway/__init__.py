"""The 無害化 gateway service: intake, sandboxed disarm pipeline, verification, delivery, audit."""
