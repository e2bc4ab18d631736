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
from typing import TYPE_CHECKING, Any

from tuiexplore import __version__, outputs, pipes, pkt_compare_command, quickexit, room, safetext, stdio
from tuiexplore.cli_common import InputError, guest, no_empty_paths, scenario, wire_option
from tuiexplore.cli_config import config_command, default_scenario, user_settings
from tuiexplore.cli_config import say as _say
from tuiexplore.files import FileError
from tuiexplore.pipes import EXIT_PIPE, OutputClosed, output_gone

if TYPE_CHECKING:  # the commands import what they need when they run: --help stays fast
    from tuiexplore.config import Settings
    from tuiexplore.domain import LabInfo
    from tuiexplore.kernel.excerpt import Excerpt
    from tuiexplore.runner import RunResult

COMMANDS = ("list", "run", "kernel", "kernels", "demo", "compare", "serve", "watch", "step", "quiz", "config")


def _term(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise SystemExit(128 + signum)


def _step_screen(
    programs: list[tuple[str, list[str]]], lab: bool, capture: bool, with_server: str | None = None, record: str | None = None
) -> int:
    from tuiexplore.tui.step_app import run_step_app

    return run_step_app(programs, lab=lab, capture=capture, with_server=with_server, settings=user_settings(), record=record)


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # the process's own entry (python -m, the console script), not a caller's
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "step":
        from tuiexplore.trace import origin

        origin.remember()  # the user's signals, for the programs, before ours below
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)  # a lost terminal: stop the lab on the way out, like TERM
    stdio.install()
    try:
        status = _dispatch(argv)
        sys.stdout.flush()  # here, not at exit: a full disk is one line too
        if as_program:
            quickexit.leave(status)  # returns unless the command allowed it
        return status
    except (InputError, outputs.Unusable) as exc:
        _say(str(exc))
        return 2
    except (FileError, stdio.OutputFailed) as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        print(f"interrupted{'; the lab was stopped' if _has_lab(argv) else ''}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            output_gone()
        except OutputClosed:
            pass
        return EXIT_PIPE
    except OutputClosed:
        if pipes.failure:  # stdout failed in the lab's reader thread, which woke us
            _say(pipes.failure[0])
            return 1
        return EXIT_PIPE


def _dispatch(argv: list[str]) -> int:
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


def _has_lab(argv: list[str]) -> bool:
    """Whether the command runs a lab (watch only observes; step makes one with --lab)."""
    command = argv[0] if argv else ""
    if command == "step":
        return "--lab" in argv
    return command not in ("watch", "list", "kernel", "kernels")


def _run_app(*args: Any, **kw: Any) -> int:
    from tuiexplore.tui.app import run_app

    return run_app(*args, **kw)


def _watch_ui(watch: Any, theme: str | None, record: str | None = None) -> int:
    from tuiexplore.tui.watch_app import run_watch_app

    return run_watch_app(watch, theme=theme, record=record, settings=user_settings())


def _command(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tuiexplore", description="Step real socket syscalls and watch FIN or RST happen.")
    p.add_argument("--version", action="version", version=f"tuiexplore {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the built-in scenarios")
    r = sub.add_parser("run", help="run a scenario headless and check its expectations")
    wire_option(r)
    r.add_argument("scenario", help="a built-in name (see 'tuiexplore list'), a TOML file, or a packetdrill .pkt script")
    r.add_argument("--dry-run", action="store_true", help="a .pkt script: read and check it, list its events, run nothing")
    r.add_argument("-D", "--define", action="append", default=[], metavar="NAME=VALUE", help="a .pkt macro, as packetdrill's -D")
    r.add_argument("-6", "--ipv6", action="store_true", help="a .pkt script: run it over IPv6 (packetdrill's --ip_version=ipv6)")
    r.add_argument("--tolerance-usecs", type=int, metavar="N", help="a .pkt script's timing tolerance (default 4000)")
    fmt = r.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON Lines events on stdout (the contract's stream)")
    fmt.add_argument("--text", action="store_true", help="a transcript for humans and bug reports (default)")
    r.add_argument("--pcap", metavar="FILE", help="also write the captured packets to FILE (pcap)")
    r.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    r.add_argument("--export", metavar="DIR", help="also write a bundle: capture.pcap, timeline.jsonl, transcript.md, screen.svg")
    r.add_argument("--pkt", metavar="FILE", help="also write the session as a packetdrill script (docs/packetdrill.md)")
    r.add_argument("--pkt-side", metavar="ACTOR", help="--pkt: whose syscalls the script makes (default: the first closer's)")
    r.add_argument("--kernel-src", metavar="PATH", help="kernel tree or linux-*.tar.* (its unread-data rule, the export)")
    r.add_argument("--kernel", metavar="K", help="run the lab (a .pkt script) in a QEMU guest: 'tuiexplore kernels' or a vmlinuz")
    k = sub.add_parser("kernel", help="print the tcp_close source with its branch markers")
    k.add_argument("--kernel-src", metavar="PATH", help="a kernel tree or a linux-*.tar.* tarball")
    k.add_argument("--table", action="store_true", help="also print tcp_close_state()'s transition table")
    c = sub.add_parser("compare", help="run two scenarios in two labs and show them side by side")
    wire_option(c)
    c.add_argument("a", help="first scenario (built-in name or TOML file), or a .pkt script run on two --kernel")
    c.add_argument("b", nargs="?", help="second scenario (default: the first again, with two --kernel)")
    c.add_argument(
        "--kernel", action="append", metavar="K", help="kernel of the first, then the second lab (host, a cached line, a vmlinuz)"
    )
    c.add_argument("--text", action="store_true", help="print the comparison instead of opening it in the explorer")
    c.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    pkt_compare_command.add_options(c)
    ks = sub.add_parser("kernels", help="list the guest kernels; 'kernels get LINE' fetches a Debian cloud kernel")
    ks.add_argument("action", nargs="?", choices=["get"], help="get: download and unpack LINE into the cache")
    ks.add_argument("line", nargs="?", help="5.10, 6.1, 6.12 or 7.x")
    ks.add_argument("--no-source", action="store_true", help="skip the linux-source package (the kernel panel's tcp.c)")
    cf = sub.add_parser("config", help="where your settings file is, and the settings and keys in force")
    cf.add_argument(
        "action", choices=["path", "show"], help="path: the file's path; show: the settings in force and every key by id"
    )
    sv = sub.add_parser("serve", help="serve the explorer to a browser (textual-serve), on 127.0.0.1 by default")
    wire_option(sv)
    sv.add_argument("scenario", nargs="?", help="scenario to open (default: config.toml's scenario, else seed-rst)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    sv.add_argument("--port", type=_port, default=8000, help="port, 1 to 65535 (default: 8000)")
    sv.add_argument("--demo", action="store_true", help="autoplay the scenario for the audience")
    sv.add_argument("--quiz", action="store_true", help="each tab guesses before each closing step (tuiexplore --quiz)")
    args = p.parse_args(argv)
    if args.cmd == "config":
        return config_command(args.action, _keymaps)
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


def _port(text: str) -> int:
    """A TCP port to listen on; 0 (any free port) is refused: the URL and ssh hint must be real."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {safetext.quoted(text)}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port from 1 to 65535")
    return port


def _kernel(args: argparse.Namespace) -> int:
    import platform

    from tuiexplore.kernel.notes import version_notes
    from tuiexplore.kernel.source import SourceError, discover

    no_empty_paths(args, "--kernel-src")
    user_settings()  # its kernel_src
    try:
        ex = discover(args.kernel_src)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    say = lambda text: print(safetext.terminal(text))  # noqa: E731 - the tree's own text: shown, never run
    say(f"# {ex.origin}")
    if ex.hint:
        say(f"# {ex.hint}")
    for note in version_notes(ex, platform.release()):
        say(f"# note: {note}")
    marks: dict[int, list[str]] = {}
    for branch, lines in ex.branches.items():
        for n in lines:
            marks.setdefault(n, []).append(branch)
    width = len(str(ex.last_line))
    for i, line in enumerate(ex.lines):
        n = ex.first_line + i
        tag = f"  <- {', '.join(marks[n])}" if n in marks else ""
        say(f"{n:>{width}} {'▶' if n in marks else ' '} {line.expandtabs(4)}{tag}")
    if args.table:
        from tuiexplore.reports.details import table_text

        title, body = table_text(ex)
        say("")
        say(f"# {title}")
        for line in body:
            say(line)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from tuiexplore import runner
    from tuiexplore.lab.client import LabError
    from tuiexplore.reports import compare

    if args.a.endswith(".pkt"):
        return pkt_compare_command.compare_pkt(args)
    kernels = args.kernel or []
    if len(kernels) > 2 or (args.b is None and len(kernels) != 2):
        raise InputError("compare takes two scenarios, or one scenario and two --kernel")
    scns = [scenario(args.a, args.wire), scenario(args.b or args.a, args.wire)]
    launchers = [guest(k) for k in kernels] + [None] * (2 - len(kernels))
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
    if kernels:  # one scenario on two kernels: each side's branch lines from its own source
        from tuiexplore.reports.sources import side_source

        a, b = (side_source(g.kernel.source if g else None, host=g is None) for g in launchers)
        sources = (a, b)
    if args.text:
        width = shutil.get_terminal_size((140, 40)).columns
        print("\n".join(compare.text(rows, names, width, sources, kernels=(where[0], where[1]) if kernels else None)))
        return 0
    from tuiexplore.tui.compare_app import CompareApp

    CompareApp(rows, names, sources=sources, kernels=(where[0], where[1]) if kernels else None, settings=user_settings()).run()
    return 0


def _where(info: LabInfo | None, kernels: bool) -> str:
    """Which kernel a compare side ran on; info is None only for a lab that never started."""
    if info is None:
        return ""
    return info.where or (f"host Linux {info.release}" if kernels else "")


def _serve(args: argparse.Namespace) -> int:
    """Each browser tab gets its own explorer process, and so its own lab."""
    import shlex
    import socket

    args.scenario = default_scenario(args.scenario)
    scenario(args.scenario)  # an unusable one is said here, not in every tab
    try:
        with socket.socket() as probe:
            probe.bind((args.host, args.port))
    except OSError as exc:
        _say(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
        return 1
    from textual_serve.server import Server

    wire = ["--wire", args.wire] if args.wire else []
    flags = [*(["demo"] if args.demo else []), *(["--quiz"] if args.quiz else []), *wire]
    command = shlex.join([sys.executable, "-P", "-m", "tuiexplore", *flags, args.scenario])
    url = f"http://{args.host}:{args.port}"
    print(f"tuiexplore: serving the explorer on {safetext.terminal(url)}", flush=True)
    if args.host in ("127.0.0.1", "localhost", "::1"):
        print(
            f"  from another machine: ssh -L {args.port}:127.0.0.1:{args.port} {os.environ.get('USER', 'you')}@"
            f"{socket.gethostname()}  then open http://localhost:{args.port}",
            flush=True,
        )
    from importlib import resources

    templates = str(resources.files("tuiexplore.tui") / "serve_templates")
    Server(command, host=args.host, port=args.port, title="tuiexplore", templates_path=templates).serve()
    return 0


def _list() -> int:
    from tuiexplore.scenarios.scenario import builtin_names, load

    for name in builtin_names():
        print(f"{name:<24} {load(name).title}")
    return 0


def _keymaps(settings: Settings) -> tuple[list[str], str]:
    from tuiexplore.tui.keymaps import problems, show

    return list(problems(settings)), show(settings)


def _run(args: argparse.Namespace) -> int:
    from tuiexplore.run_command import run

    return run(args, _replay_screenshot)


def _replay_screenshot(path: str, result: RunResult, excerpt: Excerpt) -> None:
    from tuiexplore.tui.screenshot import replay_screenshot

    replay_screenshot(path, result, excerpt)


def _explorer(argv: list[str], demo: bool = False) -> int:
    p = argparse.ArgumentParser(
        prog="tuiexplore demo" if demo else "tuiexplore",
        description="Play a scenario step by step with its narration, unattended."
        if demo
        else f"Step real socket syscalls and watch Linux decide FIN or RST. Also: tuiexplore {{{','.join(COMMANDS)}}} ...",
    )
    p.add_argument("--version", action="version", version=f"tuiexplore {__version__}")
    p.add_argument("scenario", nargs="?", help="built-in name or TOML file (default: config.toml's scenario, else seed-rst)")
    if demo:
        p.add_argument("--pause", type=float, default=2.0, metavar="SECONDS", help="pause per step (default 2)")
    p.add_argument("--theme", default=None, help="colour theme (dark, light, contrast)")
    p.add_argument("--no-trace", action="store_true", help="do not use kernel tracepoints even as root")
    p.add_argument("--kernel-src", metavar="PATH", help="kernel tree or linux-*.tar.* for the kernel panel")
    p.add_argument("--kernel", metavar="K", help="run the lab in a QEMU guest: a line from 'tuiexplore kernels' or a vmlinuz")
    room.add_arguments(p, demo)
    wire_option(p)
    p.add_argument("-D", "--define", action="append", default=[], metavar="NAME=VALUE", help="a .pkt script's macro")
    p.add_argument("-6", "--ipv6", action="store_true", help="a .pkt script: step it over IPv6")
    p.add_argument("--tolerance-usecs", type=int, metavar="N", help="a .pkt script's timing tolerance (default 4000)")
    args = p.parse_args(argv)
    settings = user_settings()
    launcher = guest(args.kernel)
    kernel_src = args.kernel_src or (launcher.kernel.source if launcher else None)

    if args.scenario and args.scenario.endswith(".pkt"):
        from tuiexplore.tui.pkt_app import open_script

        return open_script(args.scenario, args.define, args.ipv6, args.tolerance_usecs, launcher)
    scn = scenario(default_scenario(args.scenario), args.wire)
    if (code := room.headless(argv, args, demo)) is not None:
        return code
    from tuiexplore.tui.app import run_app

    pause = getattr(args, "pause", 2.0)
    if not 0.2 <= pause <= 60:
        print("tuiexplore: --pause must be from 0.2 to 60 seconds", file=sys.stderr)
        return 2
    return run_app(
        scn,
        settings=settings,
        theme=args.theme,
        tracer=not args.no_trace,
        kernel_src=kernel_src,
        autoplay=demo,
        pause_s=pause,
        transport=launcher.transport if launcher else None,
        release=launcher.kernel.version if launcher else None,
        room=room.from_args(args),
    )
