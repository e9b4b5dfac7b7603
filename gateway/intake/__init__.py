"""Intake: where transfers enter - SMTP from the internet-side mail server, the HTTP upload API, and who may use it
(tokens, failed-login limits). See docs/ARCHITECTURE.md.
"""
