"""`tuiexplore serve`: the explorer in a browser, on 127.0.0.1, one explorer (and lab) per tab.

The browser end is checked here as a browser would do it: the page, then the websocket that
carries the app's screen. scripts/serve_screenshot.py takes a real headless-Chromium picture.
"""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
from conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("flags, shows", [((), b"tcp_close"), (("--quiz",), b"quiz: no answer yet")], ids=["explorer", "quiz"])
def test_serve_answers_on_loopback_and_streams_the_app(flags, shows):
    """``--quiz``: each tab's explorer is its own player, with its own score line."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", "serve", "--port", str(port), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    async def browse() -> tuple[str, bytes]:
        async with aiohttp.ClientSession() as http:
            # The server is up when it answers: a process start is not bounded by any clock of
            # ours, so the deadline only turns a server that never answers into a named failure.
            end = time.monotonic() + 60
            while True:
                try:
                    page = await (await http.get(f"http://127.0.0.1:{port}/")).text()
                    break
                except aiohttp.ClientError:
                    assert proc.poll() is None and time.monotonic() < end, "serve never answered"
                    await asyncio.sleep(0.1)
            ws_url = re.search(r'data-session-websocket-url="([^"]+)"', page)[1]
            screen = b""
            async with http.ws_connect(ws_url + "?width=160&height=48") as ws:
                # The tab's explorer starts a lab of its own first: on a loaded machine that takes
                # longer than 20 s at times, and the loop ends as soon as the screen shows.
                end = time.monotonic() + 60
                while not (b"Packets" in screen and shows in screen) and time.monotonic() < end:
                    msg = await asyncio.wait_for(ws.receive(), 60)
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        screen += msg.data
            return page, screen

    try:
        page, screen = asyncio.run(browse())
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in out and f"ssh -L {port}:127.0.0.1:{port}" in out
    assert "fonts.googleapis.com" not in page  # nothing fetched from outside the box
    assert b"Packets" in screen and b"tcp_close" in screen and shows in screen


def test_serve_refuses_a_busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "tuiexplore", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert proc.returncode == 1 and "cannot listen" in proc.stderr
