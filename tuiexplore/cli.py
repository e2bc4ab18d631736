"""Command line: ``tuiexplore [SCENARIO]`` opens the explorer; ``list`` and ``run`` work headless.

Exit codes of ``run`` (the contract): 0 every step ran and every verdict and expectation held,
1 one did not (or the lab could not start), 2 unusable input; 141 after a closed stdout
(``pipes``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from tuiexplore import __version__, outputs, room, safetext, serving
from tuiexplore.pipes import EXIT_PIPE, OutputClosed, on_sigpipe, output_gone

if TYPE_CHECKING:  # the commands import what they need when they run: --help stays fast
    from tuiexplore.domain import LabInfo
    from tuiexplore.scenarios.scenario import Scenario

COMMANDS = ("list", "run", "kernel", "kernels", "demo", "compare", "serve", "watch", "step", "quiz")


class InputError(Exception):
    """Unusable input: one line on stderr, exit status 2."""


def _say(msg: str) -> None:
    """One message on stderr; it may quote a file's text, so it is made terminal-safe."""
    print(f"tuiexplore: {safetext.terminal_lines(msg)}", file=sys.stderr)


def _scenario(name: str, wire: str | None = None) -> Scenario:
    """``wire``: --wire, which overrides the file's [lab] wire (None: the file's, else loopback)."""
    import dataclasses

    from tuiexplore.scenarios.scenario import ScenarioError, load

    try:
        scn = load(name)
    except ScenarioError as exc:
        raise InputError(str(exc)) from None
    return dataclasses.replace(scn, wire=wire) if wire else scn


def _wire_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wire",
        choices=("loopback", "relay"),
        help="loopback (default), or relay: server and client in two namespaces, every frame through the lab's relay "
        "(overrides the scenario's [lab] wire)",
    )


def _term(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise SystemExit(128 + signum)


def _step_screen(programs: list[tuple[str, list[str]]], lab: bool, capture: bool, with_server: str | None = None) -> int:
    from tuiexplore.tui.step_app import run_step_app

    return run_step_app(programs, lab=lab, capture=capture, with_server=with_server)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "step":
        from tuiexplore.trace import origin

        origin.remember()  # the user's signals, for the programs, before ours below
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)  # a lost terminal: stop the lab on the way out, like TERM
    try:
        if argv and argv[0] == "demo":
            return _explorer(argv[1:], demo=True)
        if argv and argv[0] == "watch":
            from tuiexplore.watch.command import main as watch_main

            return watch_main(argv[1:], run_ui=_watch_ui)
        if argv and argv[0] == "step":  # its own parser: several programs, each after its own "--"
            from tuiexplore.trace.command import main as step_main

            return step_main(argv[1:], interactive=_step_screen)
        if argv and argv[0] == "quiz":  # its own parser: lessons and their progress
            from tuiexplore.quiz_command import main as quiz_main

            return quiz_main(argv[1:], run_ui=_run_app)
        if argv and argv[0] in COMMANDS:
            return _command(argv)
        return _explorer(argv)
    except (InputError, outputs.Unusable) as exc:
        _say(str(exc))
        return 2
    except KeyboardInterrupt:
        print("interrupted; the lab was stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            output_gone()
        except OutputClosed:
            pass
        return EXIT_PIPE
    except OutputClosed:
        return EXIT_PIPE


def _run_app(*args: Any, **kw: Any) -> int:
    from tuiexplore.tui.app import run_app

    return run_app(*args, **kw)


def _watch_ui(watch: Any, theme: str | None, record: str | None = None) -> int:
    from tuiexplore.tui.watch_app import run_watch_app

    return run_watch_app(watch, theme=theme, record=record)


def _command(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tuiexplore", description="Step real socket syscalls and watch FIN or RST happen.")
    p.add_argument("--version", action="version", version=f"tuiexplore {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the built-in scenarios")
    r = sub.add_parser("run", help="run a scenario headless and check its expectations")
    r.add_argument("scenario", help="a built-in name (see 'tuiexplore list'), a TOML file, or a packetdrill .pkt script")
    r.add_argument("--dry-run", action="store_true", help="a .pkt script: read and check it, list its events, run nothing")
    r.add_argument("-D", "--define", action="append", default=[], metavar="NAME=VALUE", help="a .pkt macro, as packetdrill's -D")
    fmt = r.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON Lines events on stdout (the contract's stream)")
    fmt.add_argument("--text", action="store_true", help="a transcript for humans and bug reports (default)")
    r.add_argument("--pcap", metavar="FILE", help="also write the captured packets to FILE (pcap)")
    r.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    r.add_argument("--export", metavar="DIR", help="also write a bundle: capture.pcap, timeline.jsonl, transcript.md, screen.svg")
    r.add_argument("--kernel-src", metavar="PATH", help="kernel tree or linux-*.tar.* (its unread-data rule, the export)")
    r.add_argument("--kernel", metavar="K", help="run the lab in a QEMU guest: a line from 'tuiexplore kernels' or a vmlinuz")
    _wire_option(r)
    k = sub.add_parser("kernel", help="print the tcp_close source with its branch markers")
    k.add_argument("--kernel-src", metavar="PATH", help="a kernel tree or a linux-*.tar.* tarball")
    k.add_argument("--table", action="store_true", help="also print tcp_close_state()'s transition table")
    c = sub.add_parser("compare", help="run two scenarios in two labs and show them side by side")
    c.add_argument("a", help="first scenario (built-in name or TOML file)")
    c.add_argument("b", nargs="?", help="second scenario (default: the first again, with two --kernel)")
    c.add_argument(
        "--kernel", action="append", metavar="K", help="kernel of the first, then the second lab (host, a cached line, a vmlinuz)"
    )
    c.add_argument("--text", action="store_true", help="print the comparison instead of opening it in the explorer")
    c.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    _wire_option(c)
    ks = sub.add_parser("kernels", help="list the guest kernels; 'kernels get LINE' fetches a Debian cloud kernel")
    ks.add_argument("action", nargs="?", choices=["get"], help="get: download and unpack LINE into the cache")
    ks.add_argument("line", nargs="?", help="5.10, 6.1, 6.12 or 7.x")
    ks.add_argument("--no-source", action="store_true", help="skip the linux-source package (the kernel panel's tcp.c)")
    sv = sub.add_parser("serve", help="serve the explorer to a browser (textual-serve), on 127.0.0.1 by default")
    sv.add_argument("scenario", nargs="?", default="seed-rst", help="scenario to open (default: seed-rst)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sv.add_argument("--port", type=serving.port, default=8000, help="port, 1 to 65535 (default: 8000)")
    sv.add_argument("--demo", action="store_true", help="autoplay the scenario for the audience")
    sv.add_argument("--quiz", action="store_true", help="each tab guesses before each closing step (tuiexplore --quiz)")
    _wire_option(sv)
    args = p.parse_args(argv)
    if args.cmd == "serve":
        return _serve(args)
    if args.cmd == "compare":
        return _compare(args)
    if args.cmd == "list":
        return _list()
    if args.cmd == "kernel":
        return _kernel(args)
    if args.cmd == "kernels":
        from tuiexplore.guest.commands import kernels

        return kernels(args.action, args.line, source=not args.no_source)
    return _run(args)


def _kernel(args: argparse.Namespace) -> int:
    from tuiexplore.kernel.listing import print_source
    from tuiexplore.kernel.source import SourceError

    try:
        return print_source(args.kernel_src, args.table)
    except SourceError as exc:
        raise InputError(str(exc)) from None


def _compare(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from tuiexplore import runner
    from tuiexplore.lab.client import LabError
    from tuiexplore.reports import compare

    kernels = args.kernel or []
    if len(kernels) > 2 or (args.b is None and len(kernels) != 2):
        raise InputError("compare takes two scenarios, or one scenario and two --kernel")
    scns = [_scenario(args.a, args.wire), _scenario(args.b or args.a, args.wire)]
    launchers = [_guest(k) for k in kernels] + [None] * (2 - len(kernels))
    print(safetext.terminal(f"running {scns[0].name} and {scns[1].name} in two labs..."), file=sys.stderr, flush=True)
    try:
        with ThreadPoolExecutor(2) as pool:  # two labs, two namespaces: they cannot see each other
            runs = pool.map(lambda s, g: runner.run(s, tracer=not args.no_trace, transport=g and g.transport), scns, launchers)
            results = list(runs)
    except LabError as exc:
        _say(f"the lab could not run: {exc}")
        return 1
    rows = compare.align(results[0].events, results[1].events)
    where = [_where(r.info, bool(kernels)) for r in results]
    labels = [f"{s.name}{' on ' + w if w else ''}: {s.title}" for s, w in zip(scns, where, strict=True)]
    names = (labels[0], labels[1])
    sources = None
    if kernels:  # one scenario on two kernels: each side's branch lines from its own tcp.c
        from tuiexplore.reports.sources import side_excerpt

        a, b = (side_excerpt(g.kernel.source if g else None) for g in launchers)
        sources = (a, b)
    if args.text:
        width = shutil.get_terminal_size((140, 40)).columns
        print("\n".join(compare.text(rows, names, width, sources, kernels=(where[0], where[1]) if kernels else None)))
        return 0
    from tuiexplore.tui.compare_app import CompareApp

    CompareApp(rows, names, sources=sources, kernels=(where[0], where[1]) if kernels else None).run()
    return 0


def _where(info: LabInfo | None, kernels: bool) -> str:
    """Which kernel a compare side ran on; info is None only for a lab that never started."""
    if info is None:
        return ""
    return info.where or (f"host Linux {info.release}" if kernels else "")


def _serve(args: argparse.Namespace) -> int:
    """Each browser tab gets its own explorer process, and so its own lab."""
    _scenario(args.scenario)
    flags = [*(["demo"] if args.demo else []), *(["--quiz"] if args.quiz else []), *(["--wire", args.wire] if args.wire else [])]
    return serving.serve(args.host, args.port, [*flags, args.scenario], _say)


def _list() -> int:
    from tuiexplore.scenarios.scenario import builtin_names, load

    for name in builtin_names():
        print(f"{name:<24} {load(name).title}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.scenario.endswith(".pkt"):
        from tuiexplore.packetdrill.command import PktInputError, run

        try:
            return run(args.scenario, args.define, args.dry_run, print)
        except PktInputError as exc:
            raise InputError(str(exc)) from None
    import platform

    from tuiexplore import runner
    from tuiexplore.kernel.notes import running_unread_rule
    from tuiexplore.kernel.source import SourceError, discover
    from tuiexplore.lab.client import LabError
    from tuiexplore.reports import transcript
    from tuiexplore.reports.sources import side_excerpt

    scn = _scenario(args.scenario, args.wire)
    launcher = _guest(args.kernel)
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

    signal.signal(signal.SIGPIPE, on_sigpipe)

    if args.json:
        on_event = lambda e: emit(e.to_json())  # noqa: E731
        on_ready = None if launcher is None else (lambda info: on_event(transcript.where_note(info)))
    else:
        on_event = lambda e: emit(transcript.line(e))  # noqa: E731
        on_ready = lambda info: emit("\n".join(transcript.header(scn.name, scn.title, scn.summary, info)))  # noqa: E731
    outputs.check(args.export, [args.pcap] if args.pcap else [])
    try:  # the running kernel's own source, if found: its rules, the export (a guest's: its cached tcp.c)
        excerpt = side_excerpt(launcher.kernel.source) if launcher and not args.kernel_src else discover(args.kernel_src)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    pcaps = [p for p in (args.pcap, args.export and os.path.join(args.export, "capture.pcap")) if p]
    try:
        result = runner.run(
            scn,
            on_event=on_event,
            tracer=not args.no_trace,
            pcap=pcaps,
            on_ready=on_ready,
            unread_rule=running_unread_rule(excerpt, platform.release()),
            transport=launcher and launcher.transport,
        )
    except LabError as exc:
        _say(f"the lab could not run: {exc}")
        return 1
    except OSError as exc:
        _say(f"cannot write {exc.filename}: {exc.strerror}")
        return 1
    summary = [f"{result.frames} packets captured, {result.drops} dropped by the kernel"]
    if args.pcap:
        summary.append(f"pcap written to {args.pcap}")
    if args.export:
        from tuiexplore.reports import export
        from tuiexplore.tui.screenshot import replay_screenshot

        info = result.info
        assert info is not None  # run() returns only once its lab has started

        def shoot(path: str) -> None:
            replay_screenshot(path, scn, info, result.events, excerpt)

        export.write(args.export, scn, info, result.events, excerpt, shoot)
        summary.append(f"bundle in {args.export}: {export.summary(args.export)}")
    stream = sys.stderr if args.json else sys.stdout
    print("# " + "; ".join(summary), file=stream)
    for f in result.failures:
        print(safetext.terminal(f"FAILED: {f}"), file=stream)  # it may quote an actor's message
    if result.ok:
        print(f"# {scn.name}: every step ran, every verdict and expectation held", file=stream)
    return 0 if result.ok else 1


def _guest(name: str | None):  # noqa: ANN202 - a guest launcher or None, imported lazily
    if name is None:
        return None
    from tuiexplore.guest.commands import resolve
    from tuiexplore.guest.machine import GuestError

    try:
        return resolve(name)
    except GuestError as exc:
        raise InputError(str(exc)) from None


def _explorer(argv: list[str], demo: bool = False) -> int:
    p = argparse.ArgumentParser(
        prog="tuiexplore demo" if demo else "tuiexplore",
        description="Play a scenario step by step with its narration, unattended."
        if demo
        else f"Step real socket syscalls and watch Linux decide FIN or RST. Also: tuiexplore {{{','.join(COMMANDS)}}} ...",
    )
    p.add_argument("--version", action="version", version=f"tuiexplore {__version__}")
    p.add_argument("scenario", nargs="?", default="seed-rst", help="built-in name or TOML file (default: seed-rst)")
    if demo:
        p.add_argument("--pause", type=float, default=2.0, metavar="SECONDS", help="pause per step (default 2)")
    p.add_argument("--theme", default=None, help="colour theme (dark, light, contrast)")
    p.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    p.add_argument("--kernel-src", metavar="PATH", help="kernel tree or linux-*.tar.* for the kernel panel")
    p.add_argument("--kernel", metavar="K", help="run the lab in a QEMU guest: a line from 'tuiexplore kernels' or a vmlinuz")
    _wire_option(p)
    room.add_arguments(p, demo)
    args = p.parse_args(argv)
    launcher = _guest(args.kernel)
    kernel_src = args.kernel_src or (launcher.kernel.source if launcher else None)

    scn = _scenario(args.scenario, args.wire)
    if (code := room.headless(argv, args, demo)) is not None:
        return code
    from tuiexplore.tui.app import run_app

    pause = getattr(args, "pause", 2.0)
    if not 0.2 <= pause <= 60:
        print("tuiexplore: --pause must be from 0.2 to 60 seconds", file=sys.stderr)
        return 2
    return run_app(
        scn,
        theme=args.theme,
        tracer=not args.no_trace,
        kernel_src=kernel_src,
        autoplay=demo,
        pause_s=pause,
        transport=launcher and launcher.transport,
        release=launcher and launcher.kernel.version,
        room=room.from_args(args),
    )
