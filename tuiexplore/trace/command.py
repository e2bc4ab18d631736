"""``tuiexplore step [--auto] [--json] [--lab] -- PROGRAM ARGS``: step the user's own programs.

Programs are given after ``--`` (the client), or after ``--server --``, ``--client --`` and
``--actor NAME --``, each list running to the next such marker. Exit status: 0 every verdict
held, 1 one did not, 2 unusable input or a program that cannot be traced (one line).
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from tuiexplore.timeline import Event
from tuiexplore.trace.events import OutputEvent, SocketsEvent, StopEvent
from tuiexplore.trace.syscalls import escape


class Ending(Protocol):
    """What ending a session needs of it: a Stepper here, or a ChildStepper in a lab."""

    def still_running(self) -> list[tuple[str, int]]: ...
    def end(self, timeout: float) -> int | None: ...


USAGE = (
    "tuiexplore step [--auto] [--json] [--lab [--with-server seed]] [--no-capture] -- PROGRAM ARGS\n"
    "       tuiexplore step [--auto] [--json] [--lab] --server -- PROG ARGS --client -- PROG ARGS [--actor NAME -- PROG ARGS]\n"
    "       (without --auto: the explorer, stepped by keys: n, N, g, tab, d, q; --record FILE.cast writes what it shows)"
)


CHILD_END_S = 10.0  # the child's own end once its programs are gone: its capture and lab server stop
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


class UsageError(Exception):
    pass


def split_programs(argv: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Options before the first program, then (actor, argv) per program."""
    markers = {"--server": "server", "--client": "client"}
    opts: list[str] = []
    programs: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        name = None
        if a in markers or a == "--actor":
            if a == "--actor":
                if i + 1 >= len(argv) or argv[i + 1] == "--":
                    raise UsageError("--actor needs a name: --actor NAME -- PROGRAM ARGS")
                name, i = argv[i + 1], i + 1
                if not NAME.fullmatch(name):  # it names a panel, a widget id and the JSON's "actor"
                    raise UsageError(f"--actor {name!r}: a name is a letter, then letters, digits, '_' or '-'")
            else:
                name = markers[a]
            if i + 1 >= len(argv) or argv[i + 1] != "--":
                raise UsageError(f"{a}: the program follows after '--' ({a} -- PROGRAM ARGS)")
            i += 1
        elif a == "--":
            name = "client"
        if name is None:
            if programs:
                programs[-1][1].append(a)
            else:
                opts.append(a)
            i += 1
            continue
        if any(n == name for n, _ in programs):
            raise UsageError(f"two programs named {name!r}: give each its own --actor NAME")
        programs.append((name, []))
        i += 1
    for name, args in programs:
        if not args:
            raise UsageError(f"{name}: no program after '--'")
    if not programs:
        raise UsageError("no program given (tuiexplore step --auto -- PROGRAM ARGS; see --help)")
    return opts, programs


def check_server(name: str | None, lab: bool, programs: list[tuple[str, list[str]]]) -> str:
    """Why ``--with-server NAME`` cannot be used as given ("" when it can)."""
    if name is None:
        return ""
    from tuiexplore.trace.peer import SERVERS

    if name not in SERVERS:
        return f"--with-server {escape(name.encode())}: no such lab server (known: {', '.join(SERVERS)})"
    if not lab:
        return "--with-server needs --lab: the lab server runs in the lab's own namespace, on a fixed port"
    if any(actor == "server" for actor, _ in programs):
        return "--with-server is the server: give the traced program --client -- or --actor NAME --"
    return ""


def _text(e: Event) -> str:
    from tuiexplore.reports import transcript

    t = f"{e.t:8.4f}"
    if isinstance(e, StopEvent):
        pred = "".join(
            f"\n            predict fd {p['fd']} ({p['socket']}): {p['outcome']} [{p['branch']}] {p['text']}"
            for p in e.prediction or []
        )
        sock = (
            f"  [{e.socket['state']} {e.socket['local']} -> {e.socket['remote']}]"
            if e.socket and e.socket.get("kind") == "tcp"
            else ""
        )
        return f"{t}  stop [{e.step:>2}] {e.actor:<8} pid {e.pid} tid {e.tid} {e.call}({e.args}){sock}{pred}"
    if isinstance(e, OutputEvent):
        return f"{t}       {e.actor}> {e.text}" if e.stream == "stdout" else f"{t}       {e.actor}!> {e.text}"
    return transcript.line(e)


def left_behind(session: Ending) -> str:
    """What outlives this process, by pid: the programs, and the Stepper's child while it stays."""
    kept = session.still_running()
    keeper = session.end(0.5)
    if not kept and keeper is None:
        return "Nothing is left running."
    progs = ", ".join(f"{actor} pid {pid}" for actor, pid in kept) or "no program"
    stays = f"; the Stepper's child, pid {keeper}, stays until they have exited" if keeper is not None else ""
    return f"Left running: {progs}{stays}."


def main(argv: list[str], interactive: Callable[..., int] | None = None) -> int:
    """``interactive(programs, lab=, capture=, with_server=, record=)`` opens the step screen (the CLI entry passes it:
    this package imports no UI)."""
    try:
        opts, programs = split_programs(argv)
    except UsageError as exc:
        if {"-h", "--help"} & set(argv[: argv.index("--") if "--" in argv else len(argv)]):
            opts, programs = ["--help"], []  # argparse prints the help and exits 0
        else:
            print(f"tuiexplore step: {exc}", file=sys.stderr)
            return 2
    p = argparse.ArgumentParser(prog="tuiexplore step", usage=USAGE)
    p.add_argument("--auto", action="store_true", help="run without waiting for keys (headless)")
    p.add_argument(
        "--json", action="store_true", help="JSON Lines events on stdout (the contract's stream plus stop/output/sockets)"
    )
    p.add_argument("--lab", action="store_true", help="run the programs inside a fresh private network namespace")
    p.add_argument("--no-capture", action="store_true", help="do not capture packets")
    p.add_argument(
        "--with-server",
        metavar="NAME",
        help="with --lab: a lab actor as the programs' server (seed: the seed's epoll server on 127.0.0.1:9999)",
    )
    p.add_argument("--record", metavar="FILE.cast", help="write what the step screen shows to FILE (asciicast v2)")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the step screen's --lab child (trace/child.py)
    p.add_argument("--origin", help=argparse.SUPPRESS)  # --serve: the user's signals (trace/origin.py)
    args = p.parse_args(opts)
    why = check_server(args.with_server, args.lab, programs)
    if why:
        print(f"tuiexplore step: {why}", file=sys.stderr)
        return 2
    if args.serve:
        from tuiexplore.trace.child import serve
        from tuiexplore.trace.origin import Origin

        origin = Origin.from_arg(args.origin) if args.origin else None
        return serve(
            programs, lab=args.lab, capture=not args.no_capture, with_server=args.with_server, auto=args.auto, origin=origin
        )
    if args.record and args.auto:
        print("tuiexplore step: --record writes what the step screen shows: leave out --auto", file=sys.stderr)
        return 2
    if not args.auto:
        if interactive is None:
            print("tuiexplore step: no explorer in this build; use --auto (headless)", file=sys.stderr)
            return 2
        if args.record:
            from tuiexplore import outputs

            outputs.check(None, [args.record])  # before any program starts
        return interactive(programs, lab=args.lab, capture=not args.no_capture, with_server=args.with_server, record=args.record)
    from tuiexplore.trace.child import ChildStepper
    from tuiexplore.trace.launch import Untraceable

    lock = threading.Lock()

    def emit(e: Event) -> None:
        if isinstance(e, SocketsEvent) and not args.json:
            return  # the sockets strip's feed; the text stream has each stop's socket already
        with lock:
            print(e.to_json() if args.json else _text(e), flush=True)

    # The Stepper runs in a child, the programs' keeper (trace/child.py): with the seccomp filter
    # only their network calls stop, and they run on correctly if this process is interrupted or killed.
    session = ChildStepper(programs, emit, capture=not args.no_capture, with_server=args.with_server, lab=args.lab, auto=True)
    try:
        session.start()
    except Untraceable as exc:
        print(f"tuiexplore step: {exc}", file=sys.stderr)
        return 2
    try:
        status = session.run()
    except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C; SIGTERM and SIGHUP (cli.py)
        session.request_detach()
        try:
            session.run()  # the reports of what was under way, up to the child's last line
        except (KeyboardInterrupt, SystemExit):
            pass
        print(f"tuiexplore step: interrupted; detached from stepping. {left_behind(session)}", file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else int(exc.code or 1)
    keeper = session.end(CHILD_END_S)
    if keeper is not None:
        print(f"tuiexplore step: {left_behind(session)}", file=sys.stderr)
    for line in session.errors():  # a warning or a failure of the child's own
        print(line, file=sys.stderr)
    return status
