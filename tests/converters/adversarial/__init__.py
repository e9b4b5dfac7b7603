"""Adversarial inputs for the Office (OOXML) disarm path, and an independent judge of the outputs."""
