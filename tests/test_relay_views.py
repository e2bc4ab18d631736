"""What the relay did to a segment, in the views: the explorer's packet list marks a held segment
(until a release delivers it) and the palette releases it by number, on a real lab."""

import asyncio

from test_tui import idle, until

from tuiexplore.reports import relaymarks
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import PacketEvent, StateEvent, StepEvent
from tuiexplore.tui.app import make_app
from tuiexplore.tui.packets import PacketTable


def row(table: PacketTable, n: int) -> str:
    at = next(i for i, p in enumerate(table.rows) if p.index == n)
    return table.row_text(table.rows[at], False, at).plain


def test_held_fin_is_marked_and_released_from_the_palette():
    """crossing-fins by keys up to the server's close: the client's FIN is "held #4" in the
    list; the palette's "release #4" delivers it (a step of its own), the row says so, and the
    client leaves CLOSING; "release all held segments" then delivers its retransmissions, held
    meanwhile."""

    async def body():
        app = make_app(load("crossing-fins"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(8):  # up to the client's close: its FIN held
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 8 and idle(app))
            await asyncio.sleep(0.5)  # its retransmission (RTO 200 ms) comes and is held too
            await pilot.press("n")  # the server's close: the FINs cross
            await until(pilot, lambda: app.explorer.cursor == 9 and idle(app) and app.explorer.last_verdict is not None)
            await pilot.pause(0.2)
            table = app.screen.query_one(PacketTable)
            fin = next(p for p in table.rows if p.src == "client" and "F" in p.flags)
            assert fin.relay == "held" and f"[held #{fin.index}] Flags [F.]" in row(table, fin.index)
            assert ("FIN_WAIT1", "CLOSING") in [(e.old, e.new) for e in app.explorer.events if isinstance(e, StateEvent)]

            await pilot.press("ctrl+p")
            await pilot.press(*f"release #{fin.index} ")
            await pilot.pause(0.5)
            await pilot.press("enter")
            released = lambda: any(  # noqa: E731 - a condition to wait for
                isinstance(e, StepEvent) and e.call == "release" and e.result.get("released") == [fin.index]
                for e in app.explorer.events
            )
            await until(pilot, lambda: released() and idle(app))
            await pilot.pause(0.2)
            step = next(e.step for e in app.explorer.events if isinstance(e, StepEvent) and e.call == "release")
            assert f"[#{fin.index} released <{step}>]" in row(table, fin.index)
            moves = [(e.old, e.new) for e in app.explorer.events if isinstance(e, StateEvent) and e.actor == "client"]
            assert ("CLOSING", "CLOSE") in moves or ("CLOSING", "TIME_WAIT") in moves, moves

            left = relaymarks.still_held(app.explorer.events)  # the FIN's retransmissions
            assert left and all(f"[held #{p.index}]" in row(table, p.index) for p in left)
            await pilot.press("ctrl+p")
            await pilot.press(*"release all held")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: not relaymarks.still_held(app.explorer.events) and idle(app))
            assert all("held #" not in row(table, p.index) for p in table.rows)
            assert all(f"[#{p.index} released <" in row(table, p.index) for p in left)

    asyncio.run(body())


def test_marks_follow_the_relays_actions_and_releases():
    """The domain's marks (reports.relaymarks) from a timeline: held until a release names it."""

    def packet(n: int, relay: str = "") -> PacketEvent:
        return PacketEvent(0.0, "client", "server", 1, 2, "F.", 1, 1, 0, 64, 8, n, relay=relay)

    held, dropped, late = packet(4, "held"), packet(5, "dropped"), packet(6, "delayed 300 ms")
    release = StepEvent(0.1, 11, "client", "release", {"packet": 4}, 0, None, {"released": [4]})
    failed = StepEvent(0.2, 12, "client", "release", {"packet": 9}, None, None, {"message": "not held", "failed": True})
    assert relaymarks.still_held([held, dropped, late]) == [held]
    assert relaymarks.still_held([held, dropped, release, failed]) == []
    released = relaymarks.releases([release, failed])
    assert released == {4: 11}
    assert [relaymarks.mark(p, released) for p in (held, dropped, late, packet(7))] == [
        "#4 released <11>",
        "dropped",
        "delayed 300 ms",
        "",
    ]
    assert relaymarks.mark(held, {}) == "held #4"
    assert "relay" not in packet(7).to_dict() and held.to_dict()["relay"] == "held"  # loopback's stream unchanged


def test_state_diagram_of_a_relay_run_shows_closing_and_what_the_release_delivered():
    """crossing-fins (recorded): the client's socket goes through CLOSING; the server's leaves
    FIN_WAIT2 when the release delivers the held FIN (rcv FIN), not by a timer; the held FIN
    moved nobody in the step the relay took it."""
    from tui_fakes import RELAY_EVENTS

    from tuiexplore.statediagram import track

    paths = {p.name: p.path_text() for p in track(RELAY_EVENTS)}
    assert "FIN_WAIT1 ─rcv FIN→ CLOSING" in paths["client sock"], paths
    assert "FIN_WAIT2 ─rcv FIN→ TIME_WAIT" in paths["server conn"], paths


def test_export_of_a_relay_run_marks_what_the_relay_did(tmp_path):
    """run --export on the relay's wire: the pcap holds each frame the relay saw once (a
    duplicated one once too), the timeline says what the relay did, the transcript marks it on
    the packet lines and the release's result, the ladder stops the held FIN halfway and
    finishes it at the release, and the state diagram has the client through CLOSING."""
    import json
    import subprocess

    from conftest import CONNECT, SERVER, cli, step, steps
    from relay_world import RELAY

    scenario = tmp_path / "marks.toml"
    scenario.write_text(
        steps(
            SERVER,
            CONNECT,
            step("client", "duplicate", flags="P"),
            step("client", "write", fd="c", data="a"),
            step("client", "delay", ms=50, flags="P"),
            step("client", "write", fd="c", data="b"),
            step("client", "hold", flags="F", count=1),
            step("client", "close", fd="c"),
            step("server", "read", fd="s"),
            step("server", "close", fd="s"),
            step("client", "release"),
        )
        + RELAY
    )
    out = tmp_path / "bundle"
    proc = cli("run", str(scenario), "--export", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = [json.loads(x) for x in (out / "timeline.jsonl").read_text().splitlines()]
    packets = [e for e in events if e["type"] == "packet"]
    marks = {e.get("relay") for e in packets}
    assert marks == {None, "duplicated", "delayed 50 ms", "held"}, marks
    fin = next(n for n, e in enumerate(packets, 1) if e.get("relay") == "held")
    dump = subprocess.run(["tcpdump", "-nn", "-r", str(out / "capture.pcap")], capture_output=True, text=True)
    assert dump.returncode == 0 and len(dump.stdout.splitlines()) == len(packets), dump.stdout
    md = (out / "transcript.md").read_text()
    packets_section = md.split("## Packets")[1].split("## Verdicts")[0]
    for mark in ("[relay: duplicated]", "[relay: delayed 50 ms]", f"[relay: #{fin} released <16>]"):
        assert mark in packets_section, (mark, packets_section)
    ladder = md.split("## Ladder")[1].split("## Full transcript")[0]
    assert f"(held #{fin}) -H" in ladder and "H--" in ladder and f"#{fin} released -" in ladder, ladder
    assert "(duplicated)" in ladder and "(delayed 50 ms)" in ladder
    full = md.split("## Full transcript")[1]
    assert f"[relay: held #{fin}]" in full and f"release() = 0 released #{fin}" in full
    assert "FIN_WAIT1 ─rcv FIN→ CLOSING" in md.split("## TCP states")[1].split("## Ladder")[0]


def test_a_dropped_segment_stops_halfway_and_moves_nobody():
    """The client's FIN dropped, then retransmitted: the ladder ends the first at "X"; the
    server's CLOSE_WAIT comes from the retransmission, in the later step."""
    from conftest import CONNECT, SERVER, run_text, step, steps
    from relay_world import RELAY

    from tuiexplore.reports.ladder import ladder
    from tuiexplore.statediagram import track

    r = run_text(
        steps(
            SERVER,
            CONNECT,
            step("client", "drop", flags="F"),
            step("client", "close", fd="c"),
            step("client", "sleep", ms=400),  # the FIN's retransmission (RTO 200 ms)
        )
        + RELAY
    )
    assert r.ok, r.failures
    drawn = "\n".join(ladder(r.events))
    assert "(dropped) -X" in drawn, drawn
    conn = next(p for p in track(r.events) if p.name == "server s")
    move = next(m for m in conn.moves if m.new == "CLOSE_WAIT")
    assert (move.cause, move.step) == ("rcv FIN", 10), conn.moves


def test_compare_on_the_relays_wire():
    """--wire relay: the seed against read-then-close diverges where it does on loopback; two
    relay built-ins are compared with what the relay did to their segments."""
    from conftest import cli

    proc = cli("compare", "seed-rst", "read-then-close", "--text", "--wire", "relay")
    assert proc.returncode == 0, proc.stderr
    marked = [line for line in proc.stdout.splitlines() if line.startswith(">>")]
    assert any("client R." in line and "client F." in line for line in marked), proc.stdout
    assert any("RST [data_was_unread]" in line and "FIN [fin]" in line for line in marked)
    proc = cli("compare", "crossing-fins", "lost-fin", "--text")
    assert proc.returncode == 0, proc.stderr
    marked = [line for line in proc.stdout.splitlines() if line.startswith(">>")]
    assert any("client F. (held)" in line and "client F. (dropped)" in line for line in marked), proc.stdout


def test_demo_on_the_relays_wire_plays_to_the_end(tmp_path):
    """demo --wire relay, recorded without a terminal: the seed plays through the relay to its RST."""
    import subprocess

    from conftest import cli
    from test_recording import screen_after

    from tuiexplore.recording import read_cast

    path = str(tmp_path / "relay.cast")
    args = ("demo", "seed-rst", "--wire", "relay", "--pause", "0.3", "--size", "120x36", "--record", path)
    r = cli(*args, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    header, events = read_cast(path)
    screen = "\n".join(screen_after(events, header["width"], header["height"]))
    assert "step 15/15" in screen and "Flags [R.]" in screen and "close(sock) → RST" in screen, screen


def test_a_release_names_the_direction_of_the_held_packet():
    """The palette's "release #N" runs as the actor whose side sent it; a segment whose sender
    no socket owns any more ("?") is the other side's of its receiver."""
    from tuiexplore.tui.commands import sender

    def packet(src: str, dst: str) -> PacketEvent:
        return PacketEvent(0.0, src, dst, 1, 2, "F.", 1, 1, 0, 64, 8, 4, relay="held")

    actors = ["server", "client", "b"]
    assert [sender(packet(s, d), actors) for s, d in (("b", "server"), ("server", "b"), ("?", "server"), ("?", "b"))] == [
        "b",
        "server",
        "client",
        "server",
    ]
    assert sender(packet("?", "?"), actors) == ""
