"""A log the user has not scrolled always shows its newest line (real lab, seed stepped to the end)."""

import asyncio

import pytest
from test_tui import idle, until

from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import make_app
from tuiexplore.tui.widgets import ActorLog


def shown(log: ActorLog) -> list[str]:
    return ["".join(seg.text for seg in log.render_line(y)).rstrip() for y in range(log.scrollable_content_region.height)]


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_newest_line_of_every_log_is_visible_after_16_steps(size):
    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(16):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 15 and app.explorer.last_verdict is not None and idle(app))
            await pilot.pause(0.3)
            if size[0] < 120:
                await pilot.press("1")  # narrow: the actors tab
                await pilot.pause(0.1)
            logs = list(app.screen.query(ActorLog))
            assert {log.actor for log in logs} >= {"server", "client"}
            for log in logs:
                newest = "".join(seg.text for seg in log.lines[-1]).rstrip()
                assert newest in shown(log), (log.actor, newest, shown(log))

    asyncio.run(body())


def test_a_log_scrolled_up_stays_where_the_user_put_it():
    from rich.text import Text
    from tui_fakes import FakeDriver

    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            log = app.screen.query_one("#actor-server", ActorLog)
            for i in range(40):
                log.write(Text(f"filler {i}"))
            await pilot.pause(0.1)
            assert "filler 39" in shown(log)  # followed while at the bottom
            log.scroll_to(y=0, animate=False)
            await pilot.pause(0.1)
            log.write(Text("newest"))
            await pilot.pause(0.1)
            assert log.scroll_offset.y == 0 and "newest" not in shown(log)

    asyncio.run(body())


def test_no_character_is_lost_when_the_scrollbar_appears():
    # Lines wrapped before the log overflowed are one cell too wide once its scrollbar takes a
    # column; they must be wrapped again, not cut at the edge.
    from rich.text import Text
    from textual.app import App

    class OneLog(App):
        CSS = "ActorLog { width: 40; height: 10; }"

        def compose(self):
            yield ActorLog("server", id="log")

    async def body():
        app = OneLog()
        async with app.run_test(size=(80, 24)) as pilot:
            log = app.query_one(ActorLog)
            await pilot.pause(0.1)
            before = log.scrollable_content_region.width
            for i in range(log.scrollable_content_region.height - 1):
                log.write(Text(f"filler {i}"))
                await pilot.pause(0.05)
            assert log.scrollable_content_region.width == before  # it all fits: no scrollbar yet
            long = "".join(f"{i % 10}" for i in range(3 * before))
            log.write(Text(long))  # the line that overflows the log, wrapped before the bar is there
            await pilot.pause(0.2)
            width = log.scrollable_content_region.width
            assert width < before  # the scrollbar took a column
            assert long in "".join("".join(seg.text for seg in strip) for strip in log.lines)
            assert max(strip.cell_length for strip in log.lines) <= width  # nothing cut at the edge

    asyncio.run(body())


def test_the_logs_and_the_packet_list_grow_by_a_chunk_without_a_screen_layout(monkeypatch):
    """Past its visible height a view's scrollable height grows in chunks (widgets.grow); with the
    scrollbar already shown a chunk changes nothing else on screen, so it costs no screen layout
    (one step in seven had one, ~10 ms), and the view still follows its newest line."""
    from rich.text import Text
    from textual.screen import Screen
    from tui_fakes import FakeDriver

    from tuiexplore.timeline import PacketEvent
    from tuiexplore.tui.packets import PacketTable

    layouts: list[Screen] = []
    real = Screen._refresh_layout

    def counted(self, *a, **kw):
        layouts.append(self)
        return real(self, *a, **kw)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)

    def packet(n: int) -> PacketEvent:
        return PacketEvent(float(n), "client", "server", 1, 2, ".", n, 1, 0, 64, 8, n)

    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            log = app.screen.query_one("#actor-server", ActorLog)
            table = app.screen.query_one(PacketTable)
            for i in range(40):  # past the visible height: the scrollbars come, with a layout
                log.write(Text(f"filler {i}"))
                table.add_packets([packet(i)])
            await pilot.pause(0.2)
            assert log.show_vertical_scrollbar and table.show_vertical_scrollbar
            heights = log.virtual_size.height, table.virtual_size.height
            layouts.clear()
            for i in range(40, 120):  # more than two chunks more
                log.write(Text(f"filler {i}"))
                table.add_packets([packet(i)])
                await pilot.pause(0.01)
            await pilot.pause(0.2)
            assert log.virtual_size.height > heights[0] and table.virtual_size.height > heights[1]
            assert layouts == []
            assert "filler 119" in shown(log)  # followed
            assert table.rows[table.cursor].index == 119 and table.cursor == len(table.rows) - 1
            rows = ["".join(seg.text for seg in table.render_line(y)) for y in range(table.scrollable_content_region.height)]
            assert any(row.startswith(" 119 ") for row in rows), rows  # the newest row is on screen
            for view in (log, table):
                assert view.vertical_scrollbar.window_virtual_size == view.virtual_size.height

    asyncio.run(body())
