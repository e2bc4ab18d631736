"""`tuiexplore serve`: the explorer in a browser, on 127.0.0.1, one explorer (and lab) per tab.

The browser end is checked here as a browser would do it: the page, then the websocket that
carries the app's screen. scripts/serve_screenshot.py takes a real headless-Chromium picture.
"""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pyte
import pytest
from conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*flags: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", "serve", "--port", str(port), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, port


async def websocket_url(http: aiohttp.ClientSession, proc: subprocess.Popen, port: int) -> tuple[str, str]:
    """The page, and the websocket its terminal opens."""
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
    return page, re.search(r'data-session-websocket-url="([^"]+)"', page)[1]


async def screen_until(ws, done, what: str) -> bytes:
    """The tab's terminal output until ``done(output)``. The tab's explorer starts a lab of its own
    first: on a loaded machine that takes longer than 20 s at times, and the loop ends as soon as
    the screen shows."""
    screen = b""
    end = time.monotonic() + 60
    while not done(screen):
        assert time.monotonic() < end, f"the tab never showed {what}"
        msg = await asyncio.wait_for(ws.receive(), 60)
        if msg.type == aiohttp.WSMsgType.BINARY:
            screen += msg.data
    return screen


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    return out


@pytest.mark.parametrize("flags, shows", [((), b"tcp_close"), (("--quiz",), b"quiz: no answer yet")], ids=["explorer", "quiz"])
def test_serve_answers_on_loopback_and_streams_the_app(flags, shows):
    """``--quiz``: each tab's explorer is its own player, with its own score line."""
    proc, port = start(*flags)

    async def browse() -> tuple[str, bytes]:
        async with aiohttp.ClientSession() as http:
            page, ws_url = await websocket_url(http, proc, port)
            async with http.ws_connect(ws_url + "?width=160&height=48") as ws:
                screen = await screen_until(ws, lambda s: b"Packets" in s and shows in s, "its panels")
            return page, screen

    try:
        page, screen = asyncio.run(browse())
    finally:
        out = stop(proc)
    assert f"http://127.0.0.1:{port}" in out and f"ssh -L {port}:127.0.0.1:{port}" in out
    assert "fonts.googleapis.com" not in page  # nothing fetched from outside the box
    assert b"Packets" in screen and b"tcp_close" in screen and shows in screen


def test_a_size_the_page_sends_while_the_tab_starts_is_the_one_drawn():
    """The page fits its terminal as it loads: the size it sends then reaches a tab whose explorer
    is still starting. Textual's WebDriver let its start size (80x24 here) overtake it, so the tab
    stayed an 80x24 explorer in a 160x48 page (tui/web_driver.py). Read as the page's terminal
    shows it, once it stopped changing: a frame at 160x48 may come first, then the start size's."""
    proc, port = start()

    async def browse() -> list[str]:
        terminal = pyte.Screen(160, 48)
        stream = pyte.ByteStream(terminal)
        async with aiohttp.ClientSession() as http:
            _, ws_url = await websocket_url(http, proc, port)
            async with http.ws_connect(ws_url + "?width=80&height=24") as ws:
                await ws.send_str(json.dumps(["resize", {"width": 160, "height": 48}]))
                looks: list[list[str]] = []
                end = time.monotonic() + 60
                while len(looks) < 3 or not looks[-1] == looks[-2] == looks[-3] or "Press n" not in "".join(looks[-1]):
                    assert time.monotonic() < end, "the tab's screen never settled"
                    look_at = time.monotonic() + 0.2
                    while (left := look_at - time.monotonic()) > 0:
                        try:
                            msg = await asyncio.wait_for(ws.receive(), left)
                        except TimeoutError:
                            break
                        if msg.type == aiohttp.WSMsgType.BINARY:
                            stream.feed(msg.data)
                    looks.append(list(terminal.display))
                return looks[-1]

    try:
        screen = asyncio.run(browse())
    finally:
        stop(proc)
    text = "\n".join(screen)
    assert "Kernel: tcp_close()" in text and "[1 Actors]" not in text, text


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
