"""Widgets take their styles from their component classes (DEFAULT_CSS, the theme's variables):
a theme chosen at run time (the palette's "Change theme") recolours what is already on screen,
and the packet cursor follows focus through CSS. Explorer with the fake driver (no lab); watch on
the recorded capture."""

from __future__ import annotations

import asyncio

import pytest
from rich.segment import Segment
from rich.text import Text
from test_watch_tui import HERE, settled
from test_watch_tui import make_app as make_watch_app
from textual.color import Color
from tui_fakes import FakeDriver, ShutdownDriver

from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import make_app
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.watch_widgets import ConnTable, Story
from tuiexplore.tui.widgets import ActorLog, VerdictLine

DARK = {"rst": "#ff5f5f", "fin": "#5fd75f"}  # themes/dark.toml
LIGHT = {"rst": "#d70000", "fin": "#008700"}  # themes/light.toml


def segment(segments: list[Segment], text: str) -> Segment:
    return next(s for s in segments if text in s.text)


def colour(seg: Segment) -> str:
    return seg.style.color.triplet.hex


def packet_line(table: PacketTable, flags: str) -> list[Segment]:
    row = next(i for i, p in enumerate(table.rows) if p.flags == flags)
    table.scroll_to(y=max(0, row - 2), animate=False, immediate=True)
    return list(table.render_line(row + 1 - int(table.scroll_offset.y)))


@pytest.mark.parametrize(
    ("scenario", "driver", "flags", "var"), [("seed-rst", FakeDriver, "R.", "rst"), ("half-close", ShutdownDriver, "F.", "fin")]
)
def test_a_new_theme_recolours_the_packet_rows_and_the_logs(scenario, driver, flags, var):
    async def body():
        app = make_app(load(scenario), driver_factory=driver)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            table = app.screen.query_one(PacketTable)
            log = app.screen.query_one("#actor-client", ActorLog)
            log.write(Text("write(4, 'x') = -1 EPIPE", style="actorlog--error"))
            await pilot.pause(0.1)
            for theme, want in (("tuiexplore-dark", DARK), ("tuiexplore-light", LIGHT), ("tuiexplore-dark", DARK)):
                app.theme = theme
                await pilot.pause(0.2)
                assert colour(segment(packet_line(table, flags), f"Flags [{flags}]")) == want[var]
                if var == "rst":  # the seed's verdict, in the verdict line
                    verdict = app.screen.query_one(VerdictLine).render()
                    head = next(span for span in verdict.spans if verdict.plain[span.start : span.end].endswith("→ RST"))
                    assert head.style.foreground.hex.lower() == want["rst"] and head.style.bold
                last = [s for s in log.render_line(len(log.lines) - 1 - int(log.scroll_offset.y)) if "EPIPE" in s.text]
                error = Color.parse(app.theme_variables["error"]).hex.lower()  # Textual shades $error a little
                assert last and colour(last[0]) == error and last[0].style.bold

    asyncio.run(body())


def test_the_packet_cursor_is_reversed_when_focused_and_underlined_when_not():
    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            table = app.screen.query_one(PacketTable)
            cursor = table.cursor
            assert cursor == len(table.rows) - 1

            def cursor_style():
                line = table.render_line(cursor + 1 - int(table.scroll_offset.y))
                return segment(list(line), "Flags").style

            assert not table.has_focus
            assert cursor_style().underline and not cursor_style().reverse
            table.focus()
            await pilot.pause(0.1)
            assert cursor_style().reverse and not cursor_style().underline
            app.screen.query_one(ActorLog).focus()
            await pilot.pause(0.1)
            assert cursor_style().underline and not cursor_style().reverse

    asyncio.run(body())


def test_a_log_line_styled_with_anything_but_a_component_class_is_refused():
    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            log = app.screen.query_one(ActorLog)
            with pytest.raises(KeyError):
                log._styled(Text("x", style="bold red"))

    asyncio.run(body())


def test_a_new_theme_recolours_the_watch_table_and_story(monkeypatch):
    monkeypatch.chdir(HERE)  # the capture's path as the watch tests give it

    async def body():
        app = make_watch_app()
        async with app.run_test(size=(160, 48)) as pilot:
            await settled(app, pilot)
            table = app.query_one(ConnTable)
            story = app.query_one(Story)
            rst = next(i for i, r in enumerate(table.shown) if r.kind.startswith("RST by client: unread"))
            table.move_cursor(row=rst, animate=False)
            await pilot.pause(0.1)
            app.refresh_view()
            await pilot.pause(0.1)
            assert story.detail is not None and story.detail.row.id == table.shown[rst].id
            for theme, want in (("tuiexplore-light", LIGHT), ("tuiexplore-dark", DARK)):
                app.theme = theme
                await pilot.pause(0.2)
                cell = table.get_cell_at((rst, 1))
                assert cell.spans == [] and cell.style.color.triplet.hex == want["rst"]
                story_text = story.render()
                head = next(s for s in story_text.spans if story_text.plain[s.start : s.end].startswith("RST"))
                assert head.style.color.triplet.hex == want["rst"]

    asyncio.run(body())
