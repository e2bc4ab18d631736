#!/usr/bin/env python3
"""Start `tuiexplore serve` on 127.0.0.1 and take a screenshot of the scenario's end in headless Chromium.

Usage: scripts/serve_screenshot.py [OUT.png] [--demo]   (root installs Debian's chromium if missing)
Without --demo it presses n (as a person would, in the page) up to the last step; with --demo it
waits for autoplay to get there. Prints the path of the PNG, the step and the footer row it
read on the page's terminal; look at the PNG.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        return shutil.which("chromium")
    sys.exit("chromium is not installed (apt-get install chromium)")


class Page:
    """One browser tab over the DevTools protocol. The app's terminal output reaches the page as
    the websocket's binary frames (textual-serve sends the app's bytes as they are); they are fed
    to pyte, so the script reads the screen the page draws, to know when to take the picture."""

    def __init__(self, ws) -> None:  # noqa: ANN001 - an aiohttp websocket
        self.ws = ws
        self.ids = iter(range(1, 1_000_000))
        self.waiting: dict[int, asyncio.Future] = {}
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)

    async def pump(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data.get("result", {}))
            elif data.get("method") == "Network.webSocketFrameSent":
                self._sent(data["params"]["response"])
            elif data.get("method") == "Network.webSocketFrameReceived":
                frame = data["params"]["response"]
                if frame.get("opcode") == 2:
                    self.stream.feed(base64.b64decode(frame["payloadData"]))

    def _sent(self, frame: dict) -> None:
        try:
            kind, body = json.loads(frame.get("payloadData", ""))
        except (ValueError, TypeError):
            return
        if kind == "resize":  # the terminal's size in the page: the app draws for it from now on
            self.screen.resize(body["height"], body["width"])

    async def call(self, method: str, **params) -> dict:
        n = next(self.ids)
        self.waiting[n] = asyncio.get_running_loop().create_future()
        await self.ws.send_json({"id": n, "method": method, "params": params})
        return await self.waiting[n]

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def step(self) -> tuple[int, int] | None:
        m = STEP.search(self.text())
        return (int(m[1]), int(m[2])) if m else None

    async def until(self, what: str, cond, timeout: float = 60.0) -> None:  # noqa: ANN001 - a callable
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                sys.exit(f"serve_screenshot: {what} never came; the screen:\n{self.text()}")
            await asyncio.sleep(0.1)

    async def key(self, text: str) -> None:
        """Typed into the terminal as a person would: the page's xterm input has the focus."""
        await self.call("Runtime.evaluate", expression=FOCUS)
        await self.call("Input.insertText", text=text)

    async def settled(self, still_s: float = 1.0) -> None:
        """The screen unchanged for ``still_s``: the verdict and the kernel panel are drawn."""
        last, since = self.text(), time.monotonic()
        while time.monotonic() - since < still_s:
            await asyncio.sleep(0.1)
            if (now := self.text()) != last:
                last, since = now, time.monotonic()


STEP = re.compile(r"step (\d+)/(\d+)")
FOCUS = "document.querySelector('.xterm-helper-textarea').focus()"
TOAST_S = 7.0  # autoplay's "the scenario is done" toast lasts 6 s and covers the advice line: a still screen outlasts it
WIDTH, HEIGHT = 1600, 1000


async def shoot(url: str, out: Path, profile: str, demo: bool) -> str:
    """The scenario's end in the page: with --demo, once autoplay has run the last step; else
    after pressing n up to it. Returns the terminal's text at the moment of the picture."""
    import aiohttp  # comes with textual-serve

    debug_port = free_port()
    browser = subprocess.Popen(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--remote-debugging-port={debug_port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    targets = await (await http.get(f"http://127.0.0.1:{debug_port}/json")).json()
                    target = next(t for t in targets if t["type"] == "page")
                    break
                except (OSError, aiohttp.ClientError, StopIteration):
                    await asyncio.sleep(0.1)
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                pump = asyncio.create_task(page.pump())
                # The page's viewport is the picture: the terminal is fitted to what is photographed
                # (a window's size is not its viewport's, and rows fitted past the viewport were not in it).
                metrics = {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}
                await page.call("Emulation.setDeviceMetricsOverride", **metrics)
                await page.call("Network.enable")
                await page.call("Page.navigate", url=url)
                await page.until("the first step", lambda: page.step() is not None)
                # A headless page has no focus, so the app is told it lost it and, as Textual does
                # without focus, leaves the key footer unfilled: the tab is focused, as on a desk.
                await page.call("Emulation.setFocusEmulationEnabled", enabled=True)
                await page.call("Runtime.evaluate", expression=FOCUS)
                if not demo:
                    await page.settled()  # the first frame fitted to the page, before any key
                    while (at := page.step()) and at[0] < at[1]:
                        await page.key("n")
                        await page.until(f"step {at[0] + 1}", lambda a=at: (page.step() or a)[0] > a[0])
                await page.until("the last step", lambda: (s := page.step()) is not None and s[0] == s[1], timeout=120)
                await page.settled(TOAST_S if demo else 1.0)
                await asyncio.sleep(0.5)  # the canvas paints what the terminal holds
                shot = await page.call("Page.captureScreenshot", format="png")
                out.write_bytes(base64.b64decode(shot["data"]))
                pump.cancel()
                return page.text()
    finally:
        browser.terminate()
        browser.wait(timeout=10)


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out = Path(args[0] if args else "serve.png").resolve()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tuiexplore", "serve", "--port", str(port)] + (["--demo"] if "--demo" in sys.argv else [])
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as profile:
            shown = asyncio.run(shoot(f"http://127.0.0.1:{port}/", out, profile, "--demo" in sys.argv))
    finally:
        server.terminate()
        server.wait(timeout=10)
    last = shown.splitlines()[-1].strip()
    print(f"{out}\n  {STEP.search(shown)[0] if STEP.search(shown) else 'no step'} · footer: {last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
