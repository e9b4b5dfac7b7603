"""Delivery: sanitised mail and files to the LGWAN side (transports), with retries, and the service's own notices. See
docs/ARCHITECTURE.md.
"""
