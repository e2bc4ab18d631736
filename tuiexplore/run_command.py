"""``tuiexplore run``: a scenario (or a packetdrill script) headless, as a transcript or the
contract's JSON Lines, with its pcap and export bundle."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuiexplore import outputs, pipes, quickexit, safetext, stdio
from tuiexplore.cli_common import InputError, guest, no_empty_paths, scenario
from tuiexplore.cli_config import say, user_settings
from tuiexplore.pipes import on_sigpipe, output_gone

if TYPE_CHECKING:
    from tuiexplore.kernel.excerpt import Excerpt
    from tuiexplore.runner import RunResult

Screenshot = Callable[[str, "RunResult", "Excerpt"], None]


def run(args: argparse.Namespace, screenshot: Screenshot) -> int:
    """``tuiexplore run``; ``screenshot(path, result, excerpt)`` draws the export's screen.svg (the
    TUI's job, handed in by the CLI entry: this module imports no UI)."""
    if args.scenario.endswith(".pkt"):
        from tuiexplore import rules_probe
        from tuiexplore.lab.receive_rules import ReceiveRules
        from tuiexplore.packetdrill.command import PktInputError, PktRunFlags, run

        unsupported = [f"--{k}" for k in ("pcap", "export", "kernel_src") if getattr(args, k, None)]
        if unsupported:  # said, not silently run without the files asked for
            raise InputError(
                f"{args.scenario}: {', '.join(u.replace('_', '-') for u in unsupported)} not supported with a .pkt script yet"
            )
        no_empty_paths(args, "--kernel")
        launcher = guest(args.kernel)  # the same guest as a scenario's, running the script's process
        flags = PktRunFlags(
            json=args.json,
            ipv6=args.ipv6,
            tolerance_usecs=args.tolerance_usecs,
            unread_rule=launcher.unread_rule() if launcher else None,
            rules=ReceiveRules() if args.dry_run else rules_probe.for_kernel(launcher),
            guest=launcher.script_transport if launcher else None,
        )
        try:
            return run(args.scenario, args.define, args.dry_run, print, flags)
        except PktInputError as exc:
            raise InputError(str(exc)) from None
    import platform

    from tuiexplore import rules_probe, runner, unread_probe
    from tuiexplore.kernel.notes import running_unread_rule
    from tuiexplore.kernel.source import SourceError, discover
    from tuiexplore.lab.client import LabError
    from tuiexplore.lab.receive_rules import ReceiveRules
    from tuiexplore.reports import transcript
    from tuiexplore.reports.sources import side_excerpt

    no_empty_paths(args, "--pcap", "--export", "--kernel-src", "--kernel", "--pkt")
    user_settings()  # its kernel_src
    scn = scenario(args.scenario, args.wire)
    if args.pkt_side is not None and args.pkt_side not in scn.actors:
        raise InputError(f"--pkt-side {safetext.terminal(args.pkt_side)}: not an actor of {scn.name} ({', '.join(scn.actors)})")
    launcher = guest(args.kernel)
    out_lock = threading.Lock()
    closed = threading.Event()

    def emit(text: str) -> None:
        with out_lock:
            if closed.is_set():
                return
            try:
                print(text, flush=True)
            except BrokenPipeError:
                closed.set()
                output_gone()
            except stdio.OutputFailed as exc:
                closed.set()
                pipes.output_failed(str(exc))

    signal.signal(signal.SIGPIPE, on_sigpipe)

    if args.json:
        on_event = lambda e: emit(e.to_json())  # noqa: E731
        on_ready = None if launcher is None else (lambda info: on_event(transcript.where_note(info)))
    else:
        on_event = lambda e: emit(transcript.line(e))  # noqa: E731
        on_ready = lambda info: emit("\n".join(transcript.header(scn.name, scn.title, scn.summary, info)))  # noqa: E731
    outputs.check(args.export, [p for p in (args.pcap, args.pkt) if p])
    try:  # the running kernel's own source, if found: its rules, the export (a guest's: its cached tcp.c, never ours)
        guest_src = launcher.kernel.source if launcher else None
        excerpt = side_excerpt(guest_src, host=False) if launcher and not args.kernel_src else discover(args.kernel_src)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    bundled = [os.path.join(args.export, name) for name in ("capture.pcap", "capture.pcapng")] if args.export else []
    pcaps = [p for p in (args.pcap, *bundled) if p]
    try:
        result = runner.run(
            scn,
            on_event=on_event,
            tracer=not args.no_trace,
            pcap=pcaps,
            on_ready=on_ready,
            # A guest's rule comes from its own source; the host's own kernel may be probed (unread_probe.py).
            unread_rule=running_unread_rule(excerpt, platform.release()) if launcher else unread_probe.unread_rule(excerpt),
            transport=launcher.transport if launcher else None,
            # Only the relay delivers segments the receipt predictor judges.
            rules=rules_probe.for_kernel(launcher, args.kernel_src) if scn.wire == "relay" else ReceiveRules(),
        )
    except LabError as exc:
        say(f"the lab could not run: {exc}")
        return 1
    summary = [f"{result.frames} packets captured, {result.drops} dropped by the kernel"]
    if args.pcap:
        summary.append(f"pcap written to {args.pcap}")
    if args.pkt:
        summary.append(_write_pkt(args.pkt, args.pkt_side, result))
    if args.export:
        from tuiexplore.reports import export

        info = result.info
        assert info is not None  # run() returns only once its lab has started

        def shoot(path: str) -> None:
            screenshot(path, result, excerpt)

        tree = args.kernel_src or (launcher.kernel.source if launcher else None)  # a guest's: never this machine's
        export.write(args.export, scn, info, result.events, excerpt, shoot, tree, host=launcher is None)
        summary.append(f"bundle in {args.export}: {export.summary(args.export)}")
    stream = sys.stderr if args.json else sys.stdout
    print(safetext.terminal("# " + "; ".join(summary)), file=stream)  # it names the user's paths
    for f in result.failures:
        print(safetext.terminal(f"FAILED: {f}"), file=stream)  # it may quote an actor's message
    if result.ok:
        print(f"# {scn.name}: every step ran, every verdict and expectation held", file=stream)
    if launcher is None:  # the lab's processes are reaped, every file written is closed
        quickexit.allow()
    return 0 if result.ok else 1


def _write_pkt(path: str, side: str | None, result: RunResult) -> str:
    from tuiexplore.files import FileError, write_file
    from tuiexplore.packetdrill.writer import WriteError
    from tuiexplore.reports import export

    assert result.info is not None  # run() returns only once its lab has started
    try:
        write_file(path, export.pkt_text(result.scenario, result.info, result.events, side).encode())
    except (FileError, WriteError) as exc:
        raise InputError(str(exc)) from None
    return f"packetdrill script written to {path}"
