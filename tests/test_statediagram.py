"""The state diagram follows a real lab: paths, causes, marks, Linux's own departures."""

import asyncio

import pytest
from conftest import IS_ROOT
from pilot_wait import until

from tuiexplore import runner
from tuiexplore.scenarios.scenario import load
from tuiexplore.statediagram import track
from tuiexplore.statedraw import NODES, Drawing, svg
from tuiexplore.tui.app import make_app
from tuiexplore.tui.diagram import StateDiagram

root_only = pytest.mark.skipif(not IS_ROOT, reason="tracepoints need root")


def paths(events):
    return {s.name: s for s in track(events)}


def states(sock):
    return [sock.moves[0].old] + [m.new for m in sock.moves]


@root_only
def test_clean_close_paths_from_a_real_lab():
    r = runner.run(load("clean-close"))
    p = paths(r.events)
    client, server = p["client sock"], p["server conn"]
    assert states(client)[-4:] == ["ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]
    assert states(server)[-4:] == ["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"]
    fin_wait1 = next(m for m in client.moves if m.new == "FIN_WAIT1")
    # FIN_WAIT1 lasts microseconds: only the tracepoint sees it, no poll of /proc/net/tcp could.
    assert (fin_wait1.source, fin_wait1.cause) == ("tracepoint", "close()")
    fin_wait2 = next(m for m in client.moves if m.new == "FIN_WAIT2")
    assert fin_wait2.timewait and fin_wait2.cause == "rcv ACK, tw sock"  # tcp_time_wait(FIN_WAIT2)
    assert client.moves[-1].cause == "rcv FIN" and client.state == "TIME_WAIT" and client.timewait
    assert [m.cause for m in server.moves[-3:]] == ["rcv FIN", "close()", "rcv ACK"]
    d = Drawing(78, 16, track(r.events), ["client", "server"])
    tw = d.boxes["TIME_WAIT"]
    assert "●sock·tw" in d.lines()[tw.y]


def test_without_tracepoints_only_polled_states_show():
    """The same run with the tracer off: FIN_WAIT1 and LAST_ACK, which only a tracepoint sees,
    are missing, and the moves jump over them (nothing is filled in from a table)."""
    p = paths(runner.run(load("clean-close"), tracer=False).events)
    client, server = p["client sock"], p["server conn"]
    assert "FIN_WAIT1" not in states(client) and "LAST_ACK" not in states(server)
    assert states(client)[-3:] == ["ESTABLISHED", "FIN_WAIT2", "TIME_WAIT"]
    assert all(m.source == "tcp_info" for m in client.moves)


@root_only
def test_disconnect_and_connect_again():
    p = paths(runner.run(load("disconnect")).events)
    sock = p["client sock"]
    assert states(sock)[-4:] == ["ESTABLISHED", "CLOSE", "SYN_SENT", "ESTABLISHED"]
    assert sock.moves[-3].cause == "connect() disconnect: snd RST" and sock.state == "ESTABLISHED"
    assert p["server conn"].moves[-1].cause == "rcv RST" and p["server conn2"].state == "ESTABLISHED"


@root_only
def test_seed_reset_jumps_to_close():
    p = paths(runner.run(load("seed-rst")).events)
    assert states(p["client sock"])[-2:] == ["ESTABLISHED", "CLOSE"]
    assert p["client sock"].moves[-1].cause == "close() unread data: snd RST"
    assert p["server conn"].moves[-1].cause == "rcv RST"
    assert p["server listener"].state == "LISTEN"


@root_only
def test_linger2_negative_is_labelled():
    p = paths(runner.run(load("linger2-negative")).events)
    last = p["client sock"].moves[-1]
    assert (last.old, last.new, last.cause) == ("FIN_WAIT2", "CLOSE", "close() TCP_LINGER2<0: snd RST")


def test_svg_escapes_names():
    from tuiexplore.statediagram import Move, SocketPath

    s = SocketPath("<evil&>", "fd]", [Move("CLOSE", "LISTEN", "listen()", 1, 0.0, "tracepoint")], "LISTEN")
    text = svg(Drawing(100, 40, [s]), "t <x>")
    assert "<evil" not in text and "&lt;evil&amp;&gt;" in text and "t &lt;x&gt;" in text


def mark_row(app, node: str) -> str:
    d = app.screen.query_one(StateDiagram).drawing
    return d.lines()[d.boxes[node].y]


@root_only
def test_marks_follow_a_real_lab_and_step_back():
    """Pilot against a real lab: the marks move with the steps, and back with b."""

    async def body():
        app = make_app(load("clean-close"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            await pilot.press("m")
            assert app.screen.query_one(StateDiagram).display
            for _ in range(10):  # up to the client's close()
                await pilot.press("n")
            await until(
                pilot,
                lambda: app.explorer.cursor == 10 and app.explorer.pending == 0 and "●sock·tw" in mark_row(app, "FIN_WAIT2"),
            )
            assert "●conn" in mark_row(app, "CLOSE_WAIT")
            for _ in range(2):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 12 and "●sock·tw" in mark_row(app, "TIME_WAIT"), 20)
            await until(pilot, lambda: "●conn" in mark_row(app, "CLOSE"))
            assert "●conn" not in mark_row(app, "CLOSE_WAIT")
            await pilot.press("b")  # a fresh lab replays steps 1..11: conn back in CLOSE_WAIT
            await until(
                pilot, lambda: app.explorer.cursor == 11 and app.explorer.pending == 0 and "●conn" in mark_row(app, "CLOSE_WAIT")
            )
            assert "●sock·tw" in mark_row(app, "FIN_WAIT2")

    asyncio.run(body())


def test_nodes_are_linux_state_names():
    assert set(NODES) - {"START"} == {
        "CLOSE", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
        "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK",
    }  # fmt: skip


def test_m_and_5_show_the_diagram_at_both_sizes():
    from tui_fakes import FakeDriver

    async def body(size, key):
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.2)
            diagram = app.screen.query_one(StateDiagram)
            assert not diagram.region  # hidden until asked for
            await pilot.press(key)
            await pilot.pause(0.2)
            assert diagram.region.width > 0 and diagram.drawing is not None
            assert "●sock" in "\n".join(diagram.drawing.lines())
            if size[0] >= 120 and key == "m":
                await pilot.press("m")  # wide: m again gives the kernel its place back
                await pilot.pause(0.2)
                assert not diagram.region

    for size in ((80, 24), (160, 48)):
        for key in ("m", "5"):
            asyncio.run(body(size, key))
