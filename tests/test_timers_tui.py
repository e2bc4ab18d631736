"""The explorer's timers: a pending timer in its socket's log, the wait key (f) running the lab's
wait step on a real lab, and the palette's wait entries."""

import asyncio

from conftest import CONNECT, SERVER, step, steps
from relay_world import RELAY
from test_tui import idle, log_text, packet_flags, until

from tuiexplore.scenarios.scenario import load, parse
from tuiexplore.tui.app import make_app
from tuiexplore.tui.commands import ActorCalls


def test_the_fin_retransmission_timer_is_shown_and_the_wait_key_runs_it():
    async def body():
        # The relay holds the client's FINs, retransmissions too: its timer stays armed, backing off.
        text = steps(SERVER, CONNECT, step("client", "hold", flags="F"), step("client", "close", fd="c")) + RELAY
        app = make_app(parse(text, "held-fin.toml", "held-fin"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(9):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 9 and idle(app))
            await pilot.pause(0.2)
            assert "timer c (FIN_WAIT1): FIN retransmission due in" in log_text(app, "client").replace("\n", "")
            fins = packet_flags(app).count(("client", "server", "F."))
            await pilot.press("f")  # the lab waits for the next timer: the FIN is sent again
            await until(pilot, lambda: "fired after" in log_text(app, "lab").replace("\n", "") and idle(app))
            assert packet_flags(app).count(("client", "server", "F.")) > fins

    asyncio.run(body())


def test_the_palette_offers_both_waits():
    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(80, 24)):
            provider = ActorCalls(app.screen)
            titles = [t for t, _, _ in provider.entries()]
            assert titles[1:3] == [
                "lab: wait for the next timer (up to 10 s)",
                "lab: wait for the next timer (however long, up to 2 min)",
            ]

    asyncio.run(body())
