"""Use cases on the event-sourced registry.

Import from the modules themselves (``application.registry``, ``application.register``, ...):
this package re-exports nothing, so a read-only CLI command does not pay for importing the
test-running use cases it never calls.
"""
