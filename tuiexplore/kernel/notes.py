"""What the difference between the shown source and the running kernel means for a verdict.

Facts from shared/notes/kernel.md: RST reasons came in 6.10 (close-specific names in 6.12); the
unread-data test moved to ``copied_seq`` in 6.18 (and was backported to stable trees); the
function was split into ``__tcp_close()`` in 5.11 (also backported).
"""

from __future__ import annotations

from tuiexplore.kernel.excerpt import BRANCH_PATTERNS, Excerpt
from tuiexplore.lab.predict import kernel_version


def running_unread_rule(ex: Excerpt, running_release: str) -> str | None:
    """How the running kernel judges unread data, read from its own source: the shown source's
    rule when it is the running kernel's version (a stable tree may carry the 6.18 backport),
    else None (the predictor goes by the version). ``tuiexplore run`` and the explorer both
    hand this to the lab, so they predict from the same inputs."""
    if ex.version and kernel_version(ex.version) == kernel_version(running_release):
        return ex.unread_rule
    return None


def version_notes(ex: Excerpt, running_release: str) -> list[str]:
    running = kernel_version(running_release)
    shown = kernel_version(ex.version) if ex.version else None
    notes = []
    if shown and shown != running:
        notes.append(
            f"the source shown is Linux {ex.version}, the running kernel is {running_release}: line numbers "
            "differ from your kernel's; the branches are the same code"
        )
    if running < (6, 10, 0):
        notes.append(f"{running_release} predates RST reasons (6.10): verdicts rely on packets and counters alone")
    elif running < (6, 12, 0):
        notes.append(f"{running_release} has RST reasons but not the close-specific ones (6.12): close RSTs say NOT_SPECIFIED")
    if ex.unread_rule == "copied_seq":
        notes.append("unread data is judged by copied_seq (the 6.18 fix): a read segment whose FIN is pending is not unread")
    else:
        notes.append(
            "unread data is judged by skb length (before the 6.18 fix): a segment carrying data and the peer's "
            "FIN counts as unread until EOF is read, even after its data was read"
        )
    if shown != running:
        if ex.unread_rule == "copied_seq" and running < (6, 18, 0):
            notes.append(
                f"{running_release} is older than 6.18: it has the copied_seq test only if its stable tree took "
                "the backport (5f9238530970); the predictor assumes the older test for it"
            )
        elif ex.unread_rule == "skb_len" and running >= (6, 18, 0):
            notes.append(f"{running_release} judges unread data by copied_seq, unlike the older source shown")
    if not ex.has_reasons:
        notes.append("this source passes no RST reason to tcp_send_active_reset() (added in 6.10)")
    missing = [b for b in BRANCH_PATTERNS if b not in ex.branches]
    if missing:
        notes.append(f"branches not found in this source: {', '.join(missing)}")
    return notes
