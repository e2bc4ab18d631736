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
