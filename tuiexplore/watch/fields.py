"""What each field of ``tuiexplore watch --json`` means: the manual's table is made from these
(scripts/gen_docs.py), and tests/test_docs.py checks a real run's objects have exactly them."""

from __future__ import annotations

CONNECTION: dict[str, str] = {
    "type": '`"connection"`',
    "id": "order of first sight, from 1",
    "client": "`ip:port` (`[v6]:port`); the client sent the SYN",
    "server": "`ip:port` of the other end",
    "client_known": "false when the capture joined mid-stream (then the lower port is taken for the server)",
    "end": "`FIN/FIN`, `FIN then RST`, `RST`, `refused`, `timeout`, `open`",
    "summary": "the row's words, e.g. `RST by client: unread data`",
    "closed_first_by": "`ip:port` of the end that sent the first FIN or RST, or null",
    "rst_by": "`ip:port` of the end that sent the first RST, or null",
    "cause": "a branch id (see Branch ids) or a wire class",
    "evidence": "`tracepoint` when the kernel's events decided it, else `wire`",
    "rst_reason": "the `tcp_send_reset` reason name for that RST (root, Linux 6.10 and later), else null",
    "explanation": "one sentence: the branch, and what on the wire or in the kernel shows it",
    "advice": "one line for the program whose call ended it: what to change (from the cause), or null",
    "pid": "owner of the end that closed first (or of whichever end is local), else null",
    "process": "that owner's process name, else null",
    "client_pid": "the client end's owner, where local, else null",
    "client_process": "its process name",
    "server_pid": "the server end's owner, where local, else null",
    "server_process": "its process name",
    "bytes": '`{"client_to_server": n, "server_to_client": n}`: TCP payload bytes',
    "packets": "packets of the connection (all counted, even those no longer kept)",
    "start": "the first packet's time (Unix seconds)",
    "duration": "the last packet's time minus the first's",
    "kernel_events": "the kernel's events for this connection (as root), as text",
}

SUMMARY: dict[str, str] = {
    "type": '`"summary"`',
    "packets": "TCP segments tracked",
    "frames": "frames read from the source",
    "drops": "packets the kernel dropped because watch read too slowly (PACKET_STATISTICS)",
    "connections": "connections finished",
    "aged_out": "closed connections forgotten to bound memory (2000 kept)",
    "open": "connections still open at the end",
    "cpu_s": "CPU seconds of the whole process, start-up and imports included",
    "run_cpu_s": "CPU seconds since the capture began: its own cost",
    "rss_mb": "peak resident set, MB",
}

NOTE: dict[str, str] = {
    "type": '`"note"`',
    "level": "`info` or `warn`",
    "text": "what is watched and on what evidence, or a warning",
}
