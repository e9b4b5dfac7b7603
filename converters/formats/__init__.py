"""One converter (disarmer) per format family, with the helpers that family needs. See docs/ARCHITECTURE.md.
"""
