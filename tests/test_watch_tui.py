"""The watch screen on a recorded capture (tests/data/watch-world.pcap: the six teardown kinds of
tests/watch_world.py, written by ``watch -w``): rows, filter, sort, detail, kernel branch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pilot_wait import until

from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.screens import TextScreen
from tuiexplore.tui.watch_app import WatchApp
from tuiexplore.tui.watch_widgets import ConnTable, Story
from tuiexplore.watch.engine import Options, Watch

HERE = Path(__file__).parent
# As a user types it, relative to the tests directory: the status line shows the path as given, so an
# absolute path would tie the snapshot to where the checkout lives.
PCAP = "data/watch-world.pcap"


@pytest.fixture(autouse=True)
def in_tests_dir(monkeypatch) -> None:
    monkeypatch.chdir(HERE)


def make_app(theme: str | None = None) -> WatchApp:
    watch = Watch(Options(read=PCAP))
    watch.start()
    return WatchApp(watch, theme=theme)


async def settled(app: WatchApp, pilot) -> None:
    await until(pilot, lambda: app._done and len(app.query_one(ConnTable).shown) == 6, what="the capture's six connections")
    app.refresh_view()
    await pilot.pause()


def test_rows_filter_sort_and_the_detail_of_one_connection():
    asyncio.run(_rows_filter_sort())


async def _rows_filter_sort() -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        table = app.query_one(ConnTable)
        kinds = {r.server.rsplit(":", 1)[1]: r.kind for r in table.shown}
        assert kinds == {
            "5001": "FIN/FIN, client first",
            "5002": "RST by client: unread data, or SO_LINGER 0 after reading",
            "5003": "RST by client: SO_LINGER 0, or older unread data",
            "5005": "RST reply to data after close",
            "5006": "FIN/FIN, client first (half-close)",
            "5099": "refused",
        }
        await pilot.press("slash", *"cause:data_was_unread", "enter")
        assert [r.server for r in table.shown] == ["127.0.0.1:5002"]
        await pilot.pause()
        story = str(app.query_one(Story).render())
        assert "RST by client: unread data" in story and "RFC 2525" in story and "client RST [R.]" in story
        assert "the wire cannot tell; run as root for the kernel's reason" in story
        kernel = app.query_one(KernelView)
        assert kernel.taken == ["shutdown_mask", "drain", "data_was_unread"]
        packets = app.query_one(PacketTable)
        assert "R." in [p.flags for p in packets.rows]
        await pilot.press("p", "end", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        await pilot.press("escape")
        await pilot.press("c", "escape")
        assert len(table.shown) == 6
        await pilot.press("s", "s")  # sort by the ending, then by client
        assert table.sort_by == "client"
        assert [r.client for r in table.shown] == sorted(r.client for r in table.shown)
        await pilot.press("S")
        assert [r.client for r in table.shown] == sorted((r.client for r in table.shown), reverse=True)


def test_filter_text_is_never_markup():
    asyncio.run(_filter_markup())


async def _filter_markup() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(app, pilot)
        await pilot.press("slash", *"[bold]x[/", "enter")
        assert app.query_one(ConnTable).shown == []
        assert "[bold]x[/" in str(app.query_one(ConnTable).border_subtitle)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_watch_layout(snap_compare, size):
    from test_newcomer import settled as screen_settled

    async def select_unread(pilot) -> None:
        await settled(pilot.app, pilot)
        await pilot.press("down")
        # The table, the story and the kernel panel (wrapped, then scrolled to the branch) follow
        # the selection over a few frames: the picture once the screen stopped changing.
        await screen_settled(pilot, pilot.app)

    assert snap_compare(make_app(), terminal_size=size, run_before=select_unread)


def test_watch_layout_with_owners_at_160x48(snap_compare):
    """Owners and wire-only causes (watch --no-trace live): the cause wraps, every column whole."""
    from test_newcomer import settled as screen_settled

    async def owned(pilot) -> None:
        await settled(pilot.app, pilot)
        live_owners(pilot.app)
        await pilot.press("down")
        await screen_settled(pilot, pilot.app)

    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=owned)


FILTERS = {  # what is typed after / -> the servers' ports of the rows it leaves
    "RST": {"5002", "5003", "5005"},  # not the FIN/FIN rows' "client first"
    "end:RST": {"5002", "5003", "5005"},
    "end:fin/fin": {"5001", "5006"},
    "port:5002": {"5002"},
    "port:500": set(),  # a port is matched whole
    "5099": {"5099"},
    "cause:data": {"5002", "5005"},
    "unread client": {"5002", "5003"},  # 5003: "SO_LINGER 0, or older unread data"
    "evidence:wire refused": {"5099"},
}


@pytest.mark.parametrize("typed", list(FILTERS))
def test_the_filter_matches_words_and_fields(typed):
    asyncio.run(_filter_fields(typed))


async def _filter_fields(typed: str) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        await pilot.press("slash", *typed, "enter")
        assert {r.server.rsplit(":", 1)[1] for r in app.query_one(ConnTable).shown} == FILTERS[typed]


def test_every_filter_field_is_in_the_manual():
    from tuiexplore.watch.query import FIELDS

    manual = (HERE.parent / "docs" / "watch.md").read_text()
    assert [f for f in FIELDS if f"`{f}:" not in manual] == []


def test_story_times_never_show_minus_zero():
    """connect()'s tracepoint comes microseconds before its SYN, the connection's first packet."""
    asyncio.run(_minus_zero())


async def _minus_zero() -> None:
    from dataclasses import replace

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        await pilot.press("down")
        await pilot.pause()
        story = app.query_one(Story)
        d = story.detail
        early = [(d.first - 0.0002, "kernel", "client CLOSE → SYN_SENT"), (d.first - 0.002, "kernel", "earlier")]
        story.show(replace(d, events=early + d.events))
        text = str(story.render())
        assert "-0.000" not in text
        assert "   0.000  kernel client CLOSE → SYN_SENT" in text and "  -0.002  kernel earlier" in text


def test_80x24_shows_every_row_with_its_end_cause_and_owner():
    asyncio.run(_compact())


async def _compact() -> None:
    from test_newcomer import settled as screen_settled

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(app, pilot)
        own(app, lambda conn: ("curl", 1000 + conn.id), lambda conn: ("nginx", 4242))  # as a live watch as root finds them
        await pilot.press("down")
        screen = await screen_settled(pilot, app)
        text = "\n".join(screen)
        for conn in app.engine.tracker.conns():
            line = next((s for s in screen if f"curl/{1000 + conn.id}" in s), "")
            assert conn.end.kind in line and conn.end.cause in line and "nginx/4242" in line, (conn.end, text)
        table = app.query_one(ConnTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width, "no column cut at the right"
        assert not app.query_one(KernelView).display, "a 30-column kernel panel says nothing: none"
        story = app.query_one(Story)
        assert story.region.height >= 8, story.region
        assert "unread data, or SO_LINGER 0 after reading  [data_was_unread, evidence: wire]" in text
        assert "data/watch-world.pcap" in screen[1], "the status line says what is read, in two lines"
        assert "127.0.0.1:60868 (curl/1002) → 127.0.0.1:5002 (nginx/4242)" in str(story.render())


def own(app: WatchApp, client, server) -> None:
    """Puts owners on the capture's connections (a pcap carries none): ``client(conn)`` and
    ``server(conn)`` give each end's (process, pid)."""
    with app.engine.lock:
        for conn in app.engine.tracker.conns():
            (conn.sides[0].process, conn.sides[0].pid), (conn.sides[1].process, conn.sides[1].pid) = client(conn), server(conn)
        app.engine.tracker.version += 1
    app.refresh_view()


def live_owners(app: WatchApp) -> None:
    """The owners of tests/watch_world.py's roles as ``watch --no-trace`` named them live at 160x48,
    where the wire-only causes and the owners made the table scroll sideways past ``duration``."""
    own(app, lambda conn: ("python", 31700 + 2 * conn.id + 1), lambda conn: ("python", 31700 + 2 * conn.id))


def test_160x48_shows_every_column_whole_and_the_cause_in_full():
    asyncio.run(_wide_owned())


async def _wide_owned() -> None:
    from test_newcomer import settled as screen_settled

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        live_owners(app)
        screen = await screen_settled(pilot, app)
        text = "\n".join(screen)
        table = app.query_one(ConnTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width, "no column cut at the right"
        header = next(s for s in screen if s.startswith("│ #"))
        assert all(name in header for name in table.names), header
        for r in table.shown:
            line = next((s for s in screen if f"python/{31700 + 2 * r.id + 1}" in s), "")
            assert r.client in line and f"{r.duration:.3f}" in line, (r, text)
        # the cause wraps in its column: read down the column, every row's words are there in order
        left, right = header.index(" ended ") + 1, header.index(" client ")
        column = " ".join(s[left:right].strip() for s in screen[screen.index(header) + 1 :] if s.startswith("│"))
        for r in table.shown:
            assert r.kind in column, (r.kind, column)


def test_a_live_captures_status_line_is_whole_at_160_columns(monkeypatch):
    """What a live capture says it reads ends with its ring: at 160 columns it was cut there."""
    asyncio.run(_live_status(monkeypatch))


async def _live_status(monkeypatch) -> None:
    from test_newcomer import settled as screen_settled

    live = "watching all interfaces; kernel filter of 19 BPF instructions; no tracepoints; read through a 16 MiB TPACKET_V3 ring"
    app = make_app()
    monkeypatch.setattr(app.engine, "describe", lambda: live)
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        screen = await screen_settled(pilot, app)
        said = " ".join(line.strip() for line in screen[:2])
        assert f"capture ended · {live}" in said, screen[:3]


def test_quitting_as_the_rows_are_rebuilt_says_nothing():
    """A rebuild highlights the selected row again; quitting before that message is handled left
    it for a screen without its table (a traceback on the way out)."""
    asyncio.run(_quit_mid_rebuild())


async def _quit_mid_rebuild() -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settled(app, pilot)
        await pilot.press("down")
        table = app.query_one(ConnTable)
        table.show(table.given)  # as the 0.25 s refresh does; q comes before its highlight is handled
