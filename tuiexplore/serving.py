"""``tuiexplore serve``: the explorer for a browser (textual-serve); each tab runs its own
explorer process, and so its own lab."""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
from collections.abc import Callable

from tuiexplore import safetext


def port(text: str) -> int:
    """A TCP port to listen on; 0 (any free port) is refused: the URL and ssh hint must be real."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {safetext.quoted(text)}") from None
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a port from 1 to 65535")
    return n


def serve(host: str, port: int, argv: list[str], say: Callable[[str], None]) -> int:
    """Serve ``tuiexplore ARGV`` on host:port until interrupted; 1 (said in one line) when the
    address cannot be listened on."""
    try:
        with socket.socket() as probe:
            probe.bind((host, port))
    except OSError as exc:
        say(f"cannot listen on {host}:{port}: {exc.strerror}")
        return 1
    from textual_serve.server import Server

    command = shlex.join([sys.executable, "-P", "-m", "tuiexplore", *argv])
    url = f"http://{host}:{port}"
    print(f"tuiexplore: serving the explorer on {url}", flush=True)
    if host in ("127.0.0.1", "localhost", "::1"):
        print(
            f"  from another machine: ssh -L {port}:127.0.0.1:{port} {os.environ.get('USER', 'you')}@"
            f"{socket.gethostname()}  then open http://localhost:{port}",
            flush=True,
        )
    from importlib import resources

    templates = str(resources.files("tuiexplore.tui") / "serve_templates")
    Server(command, host=host, port=port, title="tuiexplore", templates_path=templates).serve()
    return 0
