"""What a newcomer meets on the explorer's screen at 80x24 and 160x48 (issue 23): the lines that
answer the question in full, nothing cut or stray. Read from the screen as the terminal shows it
(the recorded seed-rst timeline, no lab)."""

import asyncio
import io
import time

import pytest
from rich.console import Console
from tui_fakes import FakeDriver

from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import make_app
from tuiexplore.tui.widgets import ActorLog

TAKEN = ("LINUX_MIB_TCPABORTONCLOSE);", "SK_RST_REASON_TCP_ABORT_ON_CLOSE);")


def screen_text(app) -> list[str]:
    """The screen's rows as the terminal shows them (what export_screenshot draws, as text)."""
    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), force_terminal=True, record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


async def settled(pilot, app) -> list[str]:
    """The screen once it stopped changing (the same for 3 looks 0.1 s apart): the footer composes
    and the kernel panel wraps and scrolls a few frames after the last message."""
    end = time.monotonic() + 20
    seen: list[list[str]] = []
    while len(seen) < 3 or seen[-1] != seen[-2] or seen[-2] != seen[-3]:
        assert time.monotonic() < end, "the screen never settled"
        await pilot.pause(0.1)
        seen.append(screen_text(app))
    return seen[-1]


def on_screen(size, keys=(), typed="", check=None):
    """The recorded seed-rst run at ``size`` after ``keys`` (and ``typed`` text then Enter)."""

    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=size) as pilot:
            while app.explorer.last_verdict is None:
                await pilot.pause(0.05)
            await settled(pilot, app)
            for k in keys:
                await pilot.press(k)
                await settled(pilot, app)
            if typed:
                await pilot.press(*typed, "enter")
            rows = await settled(pilot, app)
            return rows, (check(app) if check else None)

    return asyncio.run(body())


@pytest.mark.parametrize("size,keys", [((160, 48), ()), ((80, 24), ("3",))], ids=["160x48", "80x24-kernel-tab"])
def test_the_taken_branch_lines_are_on_screen_in_full(size, keys):
    rows, _ = on_screen(size, keys)
    text = "\n".join(rows)
    for tail in TAKEN:
        assert tail in text, f"{tail} cut off the kernel panel"
    kernel_border = [r for r in rows if "Kernel: tcp_close()" in r or "data_was_unread (RST)" in r]
    assert len(kernel_border) == 2 and not any("…" in r for r in kernel_border), kernel_border


def test_the_footer_has_no_stray_character_at_80_columns():
    rows, _ = on_screen((80, 24))
    assert rows[-1].rstrip().endswith("^p palette"), rows[-1]


def test_the_sockets_tab_shows_every_column_at_80_columns():
    rows, _ = on_screen((80, 24), ("4",))
    text = "\n".join(rows)
    for name in ("SO_LINGER", "LINGER2", "backlog", "0/16", "LISTEN", "te-client"):
        assert name in text, name


def test_a_log_following_its_end_starts_with_an_entry_not_a_wrapped_tail():
    def tops(app):
        return [(log.scroll_offset.y, log.starts) for log in app.screen.query(ActorLog)]

    _, logs = on_screen((80, 24), check=tops)
    for top, starts in logs:
        assert top in starts or top == 0, (top, starts)


def test_the_transition_table_title_is_said_in_full():
    rows, _ = on_screen((80, 24), ("t",))
    text = "\n".join(rows)
    assert "no kernel source with tcp_close_state() was found; tuiexplore's" in text
    assert "model of its table:" in text and "…" not in "".join(rows[1:4])


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 80)], ids=["80x24", "120x40", "160x80"])
def test_the_picker_shows_its_path_field_and_the_error_of_a_path_typed(size):
    rows, _ = on_screen(size, ("o", "tab"), typed="/nonexistent.toml")
    text = "\n".join(rows)
    assert "/nonexistent.toml: no such file or built-in scenario" in text, text


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_the_verdict_line_ends_with_the_advice_in_full(size):
    rows, _ = on_screen(size)
    text = " ".join(r.strip() for r in rows)  # the verdict line's own rows, wrapped at the width
    assert "→ 1 byte the peer sent was never read" in text
    assert "and loses its unread data" in text  # the advice's last words: not cut by the line's height


def test_the_verdict_dialog_says_what_to_do():
    rows, _ = on_screen((160, 48), ("v",))
    assert any("What to do: 1 byte the peer sent was never read" in r for r in rows)


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "explorer"])
def test_the_first_hint_names_the_keys_of_the_mode(demo):
    from tui_fakes import INFO

    from tuiexplore.tui.replay import replay_factory

    async def body():
        app = make_app(load("seed-rst"), driver_factory=replay_factory(INFO, []), autoplay=demo, pause_s=30)
        async with app.run_test(size=(160, 48)) as pilot:
            while app.explorer.info is None:
                await pilot.pause(0.05)
            text = " ".join(r.strip() for r in await settled(pilot, app))
            if demo:
                assert "Playing: a step every 30 s · a pauses" in text and "Press n" not in text
                await pilot.press("a")  # paused: now n steps
                text = " ".join(r.strip() for r in await settled(pilot, app))
            assert "Press n or space to run the next step" in text and "Playing" not in text

    asyncio.run(body())


def test_compare_names_the_step_not_a_row_number():
    from test_compare_kernels import KERNELS, runs

    from tuiexplore.reports import compare

    rows, sources = runs()
    text = "\n".join(compare.text(rows, ("a", "b"), width=200, sources=sources, kernels=KERNELS))
    assert "first divergence on the wire: step 12" in text and "[12] server read" in text
    assert "decide differently at step 14;" in text and "row" not in text
    one_sided = compare.Row(compare.Side(rows[3].left.step), compare.Side(None))
    assert one_sided.label(("5.10", "6.12")) == "step 4, 5.10 only"


def test_the_ladder_draws_a_long_server_call_on_the_servers_side():
    from tui_fakes import EVENTS

    from tuiexplore.reports.ladder import ladder

    lines = ladder(EVENTS)
    server_col = lines[0].index("server") + len("server") // 2
    row = next(r for r in lines if r.startswith(" [11]"))
    assert row.index("epoll_ctl(ep, conn, events=") > server_col, row  # right of the server's lifeline, whole
    assert "EPOLLHUP)" in row
    short = next(r for r in lines if r.startswith(" [10]"))
    assert short.index("accept(listener)") > server_col // 2, short  # in the server's half


def test_every_view_keeps_the_rst_verdict_over_a_later_none_of_another_actor():
    """The seed loop's close(conn) -> none right after the client's RST (manual keys s k c x)."""
    from dataclasses import replace

    from tui_fakes import EVENTS, INFO, SOCKETS

    from tuiexplore.timeline import VerdictEvent
    from tuiexplore.tui.kernel_view import KernelView
    from tuiexplore.tui.replay import replay_factory

    rst = next(e for e in EVENTS if isinstance(e, VerdictEvent))
    later = replace(rst, step=19, actor="server", fd="conn", observed="none", predicted="none", branch="already_closed")
    names = {1001: "te-server", 1002: "te-client"}
    driver = replay_factory(INFO, [*EVENTS, later], SOCKETS, names)

    async def body():
        app = make_app(load("seed-rst"), driver_factory=driver)
        async with app.run_test(size=(160, 48)) as pilot:
            while len(app.explorer.verdicts) < 2:
                await pilot.pause(0.05)
            text = " ".join(r.strip() for r in await settled(pilot, app))
            assert "step 14 client close(sock) → RST" in text
            assert "newer: step 19 server close(conn) → none [already_closed]" in text
            assert app.screen.query_one(KernelView).note == "step 14: data_was_unread (RST)"
            await pilot.press("v")
            text = "\n".join(await settled(pilot, app))
            assert "Verdict of step 14" in text and "▶ step 14 client close(sock) → RST" in text
            assert "  step 19 server close(conn) → none [already_closed]" in text

    asyncio.run(body())


def test_a_closing_call_of_the_same_actor_replaces_its_verdict():
    from dataclasses import replace

    from tui_fakes import EVENTS

    from tuiexplore.reports.details import featured
    from tuiexplore.timeline import VerdictEvent

    rst = next(e for e in EVENTS if isinstance(e, VerdictEvent))
    none_other = replace(rst, step=19, actor="server", observed="none")
    none_same = replace(rst, step=20, observed="none")
    fin_other = replace(rst, step=21, actor="server", observed="FIN")
    assert featured([rst, none_other]) is rst
    assert featured([rst, none_other, none_same]) is none_same
    assert featured([rst, none_other, fin_other]) is fin_other
    assert featured([none_other]) is none_other and featured([]) is None
