"""The lab: real sockets in a private network namespace, and the evidence of what the kernel did.

Nothing in this package imports Textual; the TUI and the headless CLI are views of its timeline.
"""
