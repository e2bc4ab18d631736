"""The step screen driven by keys over real traced programs: real sockets, real packets.

One test runs the Stepper in this process (the programs in the test's own namespace, on a free
port); the seed test runs it in the --lab child (trace/child.py), in a fresh namespace.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import PROGS
from tests.pilot_wait import until
from tuiexplore.timeline import VerdictEvent
from tuiexplore.trace.child import ChildStepper
from tuiexplore.trace.stepper import Stepper
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.step_app import StepApp
from tuiexplore.tui.step_feed import EventBatcher
from tuiexplore.tui.widgets import ActorLog, VerdictLine


def make_app(programs: list[tuple[str, list[str]]], lab: bool = False) -> StepApp:
    batcher = EventBatcher()
    session = ChildStepper(programs, batcher) if lab else Stepper(programs, batcher, auto=False, lab=False)
    session.start()
    return StepApp(session, batcher, [name for name, _ in programs], "test")


def log_text(app: StepApp, actor: str) -> str:
    log = app.stepper_screen.query_one(f"#actor-{actor}", ActorLog)
    return "\n".join(e.plain for e in log.entries)


def verdict_text(app: StepApp) -> str:
    return str(app.stepper_screen.query_one(VerdictLine).render())


def packets(app: StepApp) -> list[tuple[str, str, str, int]]:
    return [(p.src, p.dst, p.flags, p.len) for p in app.stepper_screen.query_one(PacketTable).rows]


def head(app: StepApp, actor: str) -> str | None:
    queue = app.stepper_screen.parked.get(actor) or []
    return queue[0].call if queue else None


async def press_until(pilot, app: StepApp, actor: str, call: str) -> None:
    """Select ``actor`` (tab) and press n until its parked call is ``call``."""
    screen = app.stepper_screen
    while screen.selected != actor:
        await pilot.press("tab")
    for _ in range(30):
        await until(pilot, lambda: head(app, actor) is not None, what=f"{actor} to park")
        if head(app, actor) == call:
            return
        before = screen.parked[actor][0].step
        await pilot.press("n")
        await until(pilot, lambda b=before: not screen.parked[actor] or screen.parked[actor][0].step != b)
    raise AssertionError(f"{actor} never parked at {call}(): {log_text(app, actor)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_c_client_stepped_by_keys_through_connect_and_close(c_client):
    port = str(free_port())
    programs = [
        ("server", [sys.executable, str(PROGS / "peer.py"), port, "hello"]),
        ("client", [c_client, port, "unread"]),
    ]

    async def body():
        app = make_app(programs)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.stepper_screen
            await press_until(pilot, app, "server", "accept4")
            await pilot.press("n")  # accept4 blocks in the kernel until the client connects
            await press_until(pilot, app, "client", "connect")
            assert f"connect(3 [0.0.0.0:0 CLOSE], addr=127.0.0.1:{port})" in log_text(app, "client")
            await pilot.press("n")
            await until(pilot, lambda: "↳ = 0" in log_text(app, "client").split("connect(")[-1], what="connect's return")
            await until(pilot, lambda: [f for *_, f, _ in packets(app)][:3] == ["S", "S.", "."], what="the handshake")
            await press_until(pilot, app, "server", "sendto")
            assert 'data="hello"' in log_text(app, "server")
            await pilot.press("n")
            await pilot.press("tab")
            assert screen.selected == "client" and head(app, "client") == "poll"
            await pilot.press("N")  # poll() runs (the data is there), then on to the next closing call
            await until(pilot, lambda: head(app, "client") == "close", what="N to stop at close()")
            # parked at close(), before n: the prediction from the socket's real state, with its branch
            await until(pilot, lambda: "predicted RST [data_was_unread]" in verdict_text(app), what="the prediction")
            assert "5 bytes unread" in verdict_text(app) and "n runs it" in verdict_text(app)
            assert "data_was_unread" in screen.query_one(KernelView).predicted
            assert not any(f == "R." for *_, f, _ in packets(app)), "nothing sent before the close runs"
            assert "close(3 [127.0.0.1:" in log_text(app, "client") and "ESTABLISHED])" in log_text(app, "client")
            await pilot.press("n")
            await until(pilot, lambda: any(isinstance(e, VerdictEvent) for e in screen.events), what="the verdict")
            [v] = [e for e in screen.events if isinstance(e, VerdictEvent)]
            assert (v.predicted, v.observed, v.branch, v.agree) == ("RST", "RST", "data_was_unread", True)
            assert ("client", "server", "R.", 0) in packets(app)
            assert "data_was_unread" in screen.query_one(KernelView).taken
            assert "→ RST" in verdict_text(app) and "prediction held" in verdict_text(app)
            await pilot.press("g")  # the rest runs freely: the peer sees the RST and exits
            out = screen.query_one("#output", ActorLog)
            await until(pilot, lambda: "server> peer: RST" in "\n".join(e.plain for e in out.entries), what="peer output")

    asyncio.run(body())


def test_seed_programs_stepped_by_keys_in_a_lab(seed):
    programs = [("server", [str(seed / "server"), "9999", "--once"]), ("client", [str(seed / "client"), "9999"])]

    async def body():
        app = make_app(programs, lab=True)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.stepper_screen
            await press_until(pilot, app, "server", "epoll_wait")
            await pilot.press("n")  # blocks until the client connects
            await press_until(pilot, app, "client", "connect")
            await pilot.press("n")
            await press_until(pilot, app, "client", "close")
            await until(pilot, lambda: "predicted FIN [fin]" in verdict_text(app), what="FIN while nothing is unread")
            await press_until(pilot, app, "server", "write")
            assert "write(5 [127.0.0.1:9999 → 127.0.0.1:" in log_text(app, "server") and 'data="1"' in log_text(app, "server")
            await pilot.press("n")
            # the 1-byte write lands in the parked client's receive queue: the prediction changes before n
            await until(
                pilot, lambda: "prediction now: fd 3: RST [data_was_unread]" in log_text(app, "client"), what="re-prediction"
            )
            await pilot.press("tab")
            assert screen.selected == "client" and "predicted RST [data_was_unread] 1 byte unread" in verdict_text(app)
            await pilot.press("n")
            await until(pilot, lambda: any(isinstance(e, VerdictEvent) for e in screen.events), what="the verdict")
            flags = [(src, f) for src, _, f, _ in packets(app)]
            write_at = flags.index(("server", "P."))
            assert ("client", "R.") in flags[write_at:], flags  # the seed's tcpdump: [R.] after the 1-byte write
            [v] = [e for e in screen.events if isinstance(e, VerdictEvent)]
            assert v.observed == "RST" and v.agree and "1 byte unread" in v.explanation
            assert "1 byte unread" in verdict_text(app)
            await press_until(pilot, app, "server", "close")
            assert "events: 201d" in log_text(app, "server")
            await pilot.press("g")  # runs the close, then on freely: stops at the next closing call
            await until(pilot, lambda: head(app, "server") == "exit_group", what="exit_group (the listener) to park")
            assert "predicted none [listen_stop]" in verdict_text(app)
            await pilot.press("n")
            await until(pilot, lambda: bool(screen.ended), what="the end of stepping")
            assert "Tcp.OutRsts +1" in log_text(app, "client")  # in a lab the counters are exact

    asyncio.run(body())


@pytest.mark.parametrize("lab", [[], ["--lab"]], ids=["here", "lab-child"])
def test_untraceable_program_is_one_line_and_exit_2(lab):
    from tests.conftest import cli

    r = cli("step", *lab, "--", "/nonexistent/program", timeout=30)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("key", ["d", "q"])
def test_detach_and_quit_leave_the_program_running_correctly(key, c_client):
    """The peer runs untraced, outside the app: it must see the client's FIN after the detach."""
    import psutil

    port = free_port()
    peer = subprocess.Popen([sys.executable, str(PROGS / "peer.py"), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 10
        while not any(c.laddr.port == port and c.status == "LISTEN" for c in psutil.net_connections("tcp")):
            assert time.monotonic() < end and peer.poll() is None, "the peer did not listen"
            time.sleep(0.05)

        async def body():
            app = make_app([("client", [c_client, str(port), "clean"])])
            async with app.run_test(size=(120, 40)) as pilot:
                await press_until(pilot, app, "client", "connect")
                await pilot.press(key)
                if key == "d":
                    await until(pilot, lambda: bool(app.stepper_screen.ended), what="the detach")
                    assert app.stepper_screen.check_action("run_one", ()) is None  # n is dimmed now
            assert app.thread is not None and not app.thread.is_alive()

        asyncio.run(body())
        out, _ = peer.communicate(timeout=10)
        assert out.strip() == "peer: EOF"
    finally:
        peer.kill()


def test_an_actor_name_that_could_not_name_a_panel_is_one_line():
    from tests.conftest import cli

    r = cli("step", "--actor", "[red]x", "--", "/bin/true", timeout=30)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "a name is a letter" in r.stderr, r.stderr
