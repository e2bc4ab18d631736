"""A guest line's own source for the kernel panel: ``kernels get`` keeps, from the line's
linux-source package, tcp.c and the files of the receipt and timer functions, so a run with
``--kernel LINE`` shows that kernel's own tcp_keepalive_timer(), not the bundled 6.12 one."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tuiexplore.guest import fetch
from tuiexplore.guest.catalog import Kernel
from tuiexplore.kernel import excerpt, receipt_source


class DebApt:
    """apt with one package: the linux-source .deb the test built."""

    def __init__(self, deb: Path) -> None:
        self.deb = deb

    def exists(self, pkg: str) -> bool:
        return pkg == "linux-source-6.1"

    def download(self, pkgs: list[str], where: str) -> list[Path]:
        return [Path(shutil.copy(self.deb, where))]


def linux_source_deb(tmp_path: Path) -> Path:
    """A linux-source-6.1 .deb (dpkg-deb --build) whose tarball has tcp.c and tcp_timer.c only."""
    timer = receipt_source.bundled("tcp_keepalive_timer")
    tcp = excerpt.bundled()
    files = {
        "Makefile": "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 99\n",
        "net/ipv4/tcp.c": "\n" * (tcp.first_line - 1) + tcp.text() + "\n",
        "net/ipv4/tcp_timer.c": "/* 6.1 */\n" + timer.text() + "\n",
        "README": "x" * 1000,
    }
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: linux-source-6.1\nVersion: 6.1.99-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    )
    (root / "usr" / "src").mkdir(parents=True)
    with tarfile.open(root / "usr" / "src" / "linux-source-6.1.tar.xz", "w:xz") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(f"linux-source-6.1/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    subprocess.run(["dpkg-deb", "--build", str(root), str(tmp_path / "src.deb")], check=True, capture_output=True)
    return tmp_path / "src.deb"


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb builds the package (Debian's own tool)")
def test_a_fetched_line_keeps_the_timer_source_for_the_panel(tmp_path):
    kernel = Kernel("6.1", "6.1.0-99-cloud-amd64", "6.1.99", "linux-image-6.1.0-99-cloud-amd64", str(tmp_path / "k"))
    said: list[str] = []
    fetch._source(DebApt(linux_source_deb(tmp_path)), kernel, said.append)
    assert said[-1] == f"tcp.c, tcp_timer.c of Linux 6.1.99 in {tmp_path / 'k' / 'src'}", said
    assert kernel.source == str(tmp_path / "k" / "src")
    ex = receipt_source.excerpt("tcp_keepalive_timer", kernel.source, env={})
    bundled = receipt_source.bundled("tcp_keepalive_timer")
    assert ex.origin.startswith(f"tree {kernel.source} (--kernel-src): net/ipv4/tcp_timer.c 2-") and not ex.hint
    assert ex.lines == bundled.lines and ex.branches["keepalive_abort"] == [
        n - bundled.first_line + 2 for n in bundled.branches["keepalive_abort"]
    ]
    # inet_timewait_sock.c was not in the package: the bundled excerpt, which says so
    assert receipt_source.excerpt("tw_timer_handler", kernel.source, env={}).origin.startswith("bundled")


def test_the_receipt_branches_are_found_in_the_older_shapes_a_line_has():
    """A line's own tcp_input.c and tcp_minisocks.c (6.1 and older): tcp_sequence() is tested in
    an if, not stored as a drop reason, and the timewait code compares with tcptw->tw_rcv_nxt."""
    older = {
        "tcp_validate_incoming": ("reason = tcp_sequence(tp,", "if (!tcp_sequence(tp,"),
        "tcp_timewait_state_process": ("seq == rcv_nxt &&", "seq == tcptw->tw_rcv_nxt &&"),
    }
    for name, (new, old) in older.items():
        bundled = receipt_source.bundled(name)
        assert new in bundled.text()
        ex = receipt_source.extract(bundled.text().replace(new, old), name, "6.1", "a 6.1 tree")
        assert ex is not None
        for branch, (fn, patterns) in receipt_source.RECEIPT_PATTERNS.items():
            if fn == name:
                assert len(ex.branches.get(branch, [])) == len(patterns), (branch, ex.branches.get(branch))


def test_the_explorer_on_a_guest_without_its_tree_never_shows_this_machines(tmp_path, monkeypatch):
    """A guest line fetched without its source (kernel_src None, a transport): the panel's
    tcp_close and its timer function are the bundled ones, though this machine has a tree."""
    import asyncio
    import dataclasses

    from pilot_wait import until
    from tui_fakes import INFO, recorded

    from tuiexplore.scenarios.scenario import load
    from tuiexplore.tui.app import make_app
    from tuiexplore.tui.kernel_view import KernelView
    from tuiexplore.tui.replay import replay_factory

    host = tmp_path / "host" / "net" / "ipv4"
    host.mkdir(parents=True)
    (host / "tcp.c").write_text("/* this machine */\n" + excerpt.bundled().text() + "\n")
    (host / "tcp_timer.c").write_text("/* this machine */\n" + receipt_source.bundled("tcp_keepalive_timer").text() + "\n")
    monkeypatch.setenv("TUIEXPLORE_KERNEL_SRC", str(tmp_path / "host"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    receipt_source.for_panel.cache_clear()
    events = recorded(Path(__file__).parent / "data" / "keepalive-abort-events.jsonl")
    scn = load("keepalive-abort")
    replayed = replay_factory(dataclasses.replace(INFO, wire="relay"), events)
    app = make_app(
        dataclasses.replace(scn, steps=scn.steps[:11]),
        driver_factory=lambda target, s, tracer=True, transport=None: replayed(target, s, tracer),
        transport=lambda: None,  # a guest's: the replay never calls it
        find_source=True,
    )

    async def body() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            kernel = app.screen.query_one(KernelView)
            await until(pilot, lambda: kernel.excerpt.function == "tcp_keepalive_timer", 10, "the keepalive timer")
            await app.workers.wait_for_complete()  # the source looked for in the background
            await pilot.pause(0.2)
            assert kernel.base.origin.startswith("bundled") and kernel.excerpt.origin.startswith("bundled")

    try:
        asyncio.run(body())
    finally:
        receipt_source.for_panel.cache_clear()
