"""``tuiexplore watch``: arguments, the headless JSON Lines output, and the hand-off to the TUI.

Exit status: 0 when the capture ended normally, 2 on unusable input or when live capture is not
permitted (one line on stderr, no traceback), 1 when the source failed mid-way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from tuiexplore import outputs
from tuiexplore.watch.bpf import FilterError
from tuiexplore.watch.classify import End
from tuiexplore.watch.engine import Options, Stats, Watch
from tuiexplore.watch.sources import SourceError
from tuiexplore.watch.tracker import Conn


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tuiexplore watch",
        description="Watch a box's TCP connections: how each one ended (FIN/FIN, RST, refused, ...) and why.",
    )
    p.add_argument("-i", dest="ifaces", action="append", default=[], metavar="IFACE", help="interface (repeatable; default: all)")
    p.add_argument("--port", dest="ports", action="append", type=_port, default=[], metavar="P", help="TCP port (repeatable)")
    p.add_argument("--host", help="only connections with this IP address at either end")
    p.add_argument("--pid", type=int, help="only the TCP ports of this process (followed as it opens sockets)")
    p.add_argument("-f", dest="expr", metavar="BPF", help="a pcap-filter expression (compiled by tcpdump's libpcap)")
    p.add_argument("-r", dest="read", metavar="FILE", help="read a pcap file instead of capturing; '-' reads it from stdin")
    p.add_argument("-w", dest="write", metavar="FILE", help="also write every captured packet to FILE (pcap, raw IP)")
    p.add_argument("--json", action="store_true", help="headless: one JSON object per line (connections, then a summary)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    p.add_argument("--count", type=int, metavar="N", help="stop after N connections have finished")
    p.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    p.add_argument("--include-ssh", action="store_true", help="also watch our own ssh session ($SSH_CONNECTION)")
    p.add_argument("--theme", default=None, help="colour theme (dark, light, contrast)")
    p.add_argument("--record", metavar="FILE.cast", help="write what the screen shows to FILE (asciicast v2)")
    return p


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return int(text)


def record(conn: Conn) -> dict[str, Any]:
    """A finished connection as the README documents it."""
    e = conn.end
    assert isinstance(e, End), "finalized connections are classified"
    c, s = conn.sides
    first = {conn.ep(0): c, conn.ep(1): s}.get(e.closed_first_by or "")
    owner = first if first is not None and first.pid else (c if c.pid else s)
    return {
        "type": "connection",
        "id": conn.id,
        "client": conn.ep(0),
        "server": conn.ep(1),
        "client_known": conn.client_known,
        "end": e.kind,
        "summary": e.summary,
        "closed_first_by": e.closed_first_by,
        "rst_by": e.rst_by,
        "cause": e.cause,
        "evidence": e.evidence,
        "rst_reason": e.rst_reason,
        "explanation": e.explanation,
        "pid": owner.pid,
        "process": owner.process,
        "client_pid": c.pid,
        "client_process": c.process,
        "server_pid": s.pid,
        "server_process": s.process,
        "bytes": {"client_to_server": c.bytes, "server_to_client": s.bytes},
        "packets": conn.packets,
        "start": round(conn.first, 6),
        "duration": round(conn.last - conn.first, 6),
        "kernel_events": [text for _, src, text in conn.events if src == "kernel"],
    }


def summary(st: Stats) -> dict[str, Any]:
    return {
        "type": "summary",
        "packets": st.packets,
        "frames": st.received,
        "drops": st.drops,
        "connections": st.connections,
        "aged_out": st.aged_out,
        "open": st.open,
        "cpu_s": round(st.cpu_s, 3),
        "run_cpu_s": round(st.run_cpu_s, 3),
        "rss_mb": round(st.rss_mb, 1),
    }


def main(argv: list[str], run_ui: Callable[[Watch, str | None, str | None], int] | None = None) -> int:
    """``run_ui(watch, theme, record)`` shows the screen (the CLI entry passes the Textual one;
    this package imports no UI)."""
    args = parser().parse_args(argv)
    opts = Options(
        ifaces=args.ifaces,
        ports=args.ports,
        host=args.host,
        pid=args.pid,
        expr=args.expr,
        read=args.read,
        write=args.write,
        trace=not args.no_trace,
        include_ssh=args.include_ssh,
        duration=args.duration,
        count=args.count,
    )
    if args.duration is not None and args.duration <= 0:
        print("tuiexplore: --duration must be positive", file=sys.stderr)
        return 2
    if args.count is not None and args.count < 1:
        print("tuiexplore: --count must be at least 1", file=sys.stderr)
        return 2
    if args.json or run_ui is None:
        return _headless(opts)
    if args.read == "-":
        opts.stream = os.fdopen(os.dup(0), "rb")
        if not terminal_for_keys():
            print("tuiexplore: stdin is the pcap and there is no terminal (/dev/tty) for the UI; use --json", file=sys.stderr)
            return 2
    if args.record:
        outputs.check(None, [args.record])
    watch = Watch(opts)
    if not _start(watch):
        return 2
    return run_ui(watch, args.theme, args.record)


def terminal_for_keys() -> bool:
    """``-r -`` with the UI: stdin is the pcap, so keys come from /dev/tty (fd 0 is re-pointed)."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return False
    os.dup2(tty, 0)
    os.close(tty)
    return True


def _start(watch: Watch) -> bool:
    try:
        watch.start()
    except (SourceError, FilterError) as exc:
        print(f"tuiexplore: {exc}", file=sys.stderr)
        return False
    return True


def _headless(opts: Options) -> int:
    lock = threading.Lock()

    def emit(obj: dict[str, Any]) -> None:
        with lock:
            print(json.dumps(obj), flush=True)

    watch = Watch(opts, on_final=lambda conn: emit(record(conn)))
    if not _start(watch):
        return 2
    for note in [watch.describe(), *watch.notes]:
        emit({"type": "note", "level": "info", "text": note})
    seen = len(watch.source.notes)
    try:
        try:
            watch.run()
        except KeyboardInterrupt:
            with watch.lock:
                watch.tracker.finish_all()
        stats = watch.stats()
    finally:
        watch.close()  # also on SIGTERM (SystemExit): the tracefs instance must go
    for note in watch.source.notes[seen:]:
        emit({"type": "note", "level": "warn", "text": note})
    emit(summary(stats))
    return 0
