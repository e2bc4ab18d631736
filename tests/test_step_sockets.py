"""The step screen's sockets strip, and --with-server seed in the UI: the seed's C client stepped
by keys against the lab's epoll server actor, in the --lab child's namespace."""

from __future__ import annotations

import asyncio
import re

from tests.test_step_tui import head, log_text, press_until, until, verdict_text
from tuiexplore.timeline import VerdictEvent
from tuiexplore.trace.child import ChildStepper
from tuiexplore.tui.step_app import StepApp
from tuiexplore.tui.step_feed import EventBatcher
from tuiexplore.tui.step_sockets import StepSockets


def strip_rows(app: StepApp) -> list[tuple[str, ...]]:
    table = app.stepper_screen.query_one(StepSockets)
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def test_strip_follows_the_client_against_the_lab_server(seed):
    batcher = EventBatcher()
    session = ChildStepper([("client", [str(seed / "client"), "9999"])], batcher, with_server="seed")
    session.start()
    app = StepApp(session, batcher, ["client", "server"], "test")

    async def body():
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.stepper_screen
            await until(pilot, lambda: any(r[3] == "LISTEN" for r in strip_rows(app)), what="the lab server's listener")
            assert ("server", "127.0.0.1:9999", "LISTEN") in [(r[0].split()[0], r[2], r[3]) for r in strip_rows(app)]
            assert "listen(3" in log_text(app, "server"), "the lab server's calls are shown with their lines"
            await press_until(pilot, app, "client", "connect")
            await pilot.press("n")
            await until(pilot, lambda: head(app, "client") == "close", what="close() to park")
            # the server writes "1" on each EPOLLOUT, a second apart (the seed's sleep(1)), while the
            # client is parked: the strip shows them unread in its socket, one byte or (if the box
            # is too busy to look within the second) more
            await until(
                pilot,
                lambda: any(
                    r[0].startswith("client") and r[3] == "ESTABLISHED" and r[4].isdigit() and int(r[4]) >= 1
                    for r in strip_rows(app)
                ),
                what="Recv-Q 1 or more in the strip",
            )
            [client_row] = [r for r in strip_rows(app) if r[0].startswith("client")]
            assert client_row[1] == "3" and client_row[2].endswith("→ 127.0.0.1:9999")
            unread = re.compile(r"predicted RST \[data_was_unread\] \d+ bytes? unread")
            await until(pilot, lambda: unread.search(verdict_text(app)) is not None, what="RST")
            await pilot.press("n")
            await until(pilot, lambda: any(isinstance(e, VerdictEvent) for e in screen.events), what="the verdict")
            [v] = [e for e in screen.events if isinstance(e, VerdictEvent)]
            assert (v.observed, v.branch, v.agree) == ("RST", "data_was_unread", True)
            await until(pilot, lambda: not any(r[0].startswith("client") for r in strip_rows(app)), what="the closed socket")
            await until(pilot, lambda: "events: 201d" in log_text(app, "server"), what="the server's 201d")
            await pilot.press("g")
            await until(pilot, lambda: bool(screen.ended), what="the end of stepping")

    asyncio.run(body())
