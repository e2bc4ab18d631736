#!/usr/bin/env python3
"""Start `tuiexplore serve` on 127.0.0.1 and take a screenshot of it in headless Chromium.

Usage: scripts/serve_screenshot.py [OUT.png] [--demo]   (root installs Debian's chromium if missing)
Prints the path of the PNG; look at it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

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


async def shoot(url: str, out: Path, profile: str, settle_s: float = 6.0) -> None:
    """Chromium's --screenshot fires at page load, before the app's websocket has drawn anything;
    over the DevTools protocol we wait for the terminal to fill, then capture."""
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
            "--window-size=1600,1000",
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
                    page = next(t for t in targets if t["type"] == "page")
                    break
                except (OSError, aiohttp.ClientError, StopIteration):
                    await asyncio.sleep(0.1)
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = iter(range(1, 1000))

                async def call(method: str, **params) -> dict:
                    n = next(ids)
                    await ws.send_json({"id": n, "method": method, "params": params})
                    while True:
                        msg = await ws.receive_json()
                        if msg.get("id") == n:
                            return msg.get("result", {})

                await call("Page.navigate", url=url)
                await asyncio.sleep(settle_s)
                shot = await call("Page.captureScreenshot", format="png")
                out.write_bytes(base64.b64decode(shot["data"]))
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
            asyncio.run(shoot(f"http://127.0.0.1:{port}/", out, profile))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
