"""What the screen shows, at 80x24 and 160x48, in all three themes (recorded seed-rst timeline)."""

import pytest
from tui_fakes import FakeDriver, ShutdownDriver

from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import make_app


@pytest.mark.parametrize("theme", ["dark", "light", "contrast"])
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_layout(snap_compare, theme, size):
    app = make_app(load("seed-rst"), theme=theme, driver_factory=FakeDriver)
    assert snap_compare(app, terminal_size=size)


def test_narrow_kernel_tab(snap_compare):
    from tuiexplore.tui.kernel_view import KernelView

    async def shown(pilot):
        await pilot.press("3")
        # Shown, the panel wraps its code at its width, is laid out again, then scrolls to the
        # taken branch: a few frames after the key.
        kernel = pilot.app.screen.query_one(KernelView)
        while not (kernel._wrapped_at and kernel.scroll_y > 0):
            await pilot.pause(0.05)
        await pilot.pause(0.1)

    app = make_app(load("seed-rst"), driver_factory=FakeDriver)
    assert snap_compare(app, terminal_size=(80, 24), run_before=shown)


def test_kernel_panel_after_a_shutdown_verdict(snap_compare):
    """shutdown(SHUT_WR) runs tcp_shutdown(), not tcp_close(): no tcp_close line is marked taken;
    the panel says where the code is instead."""
    app = make_app(load("half-close"), driver_factory=ShutdownDriver)
    assert snap_compare(app, terminal_size=(80, 24), press=["3"])


@pytest.mark.parametrize("theme", ["dark", "light", "contrast"])
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_state_diagram(snap_compare, theme, size):
    app = make_app(load("seed-rst"), theme=theme, driver_factory=FakeDriver)
    assert snap_compare(app, terminal_size=size, press=["m"])


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_step_screen_at_a_parked_close(snap_compare, size):
    """The seed's programs stepped by keys, the client parked at close() after the server's
    1-byte write: the RST prediction and its branch shown before the call runs."""
    from step_fakes import ReplaySession

    from tuiexplore.tui.step_app import StepApp
    from tuiexplore.tui.step_feed import EventBatcher
    from tuiexplore.tui.widgets import ActorLog

    batcher = EventBatcher()
    session = ReplaySession(batcher)
    app = StepApp(session, batcher, ["server", "client"], "in a lab namespace (own lo, exact counters)")

    async def replayed(pilot):
        while len(app.stepper_screen.events) < len(session.events):
            await pilot.pause(0.05)
        await pilot.press("tab")  # select the client, parked at close()
        while app.stepper_screen.selected != "client" or not app.stepper_screen.query_one("#actor-client").has_focus:
            await pilot.pause(0.05)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)
        # A burst of writes before the first layout can leave a log's size (its scrollbar) and its
        # follow-the-end behind; a resize settles both, as any later write or resize would.
        await pilot.resize_terminal(size[0] + 1, size[1])
        await pilot.pause(0.2)
        await pilot.resize_terminal(*size)
        await pilot.pause(0.2)
        # Each log at its end, and still there once a late re-wrap (a scrollbar that appeared) settled.
        for _ in range(20):
            logs = list(app.stepper_screen.query(ActorLog))
            ends = [max(0, len(log.lines) - log.scrollable_content_region.height) for log in logs]
            for log, end in zip(logs, ends, strict=True):
                log.scroll_to(y=end, animate=False)
            await pilot.pause(0.2)
            if all(
                log.scroll_y == end == max(0, len(log.lines) - log.scrollable_content_region.height)
                for log, end in zip(logs, ends, strict=True)
            ):
                break

    assert snap_compare(app, terminal_size=size, run_before=replayed)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_packet_list_marks_held_and_released_segments(snap_compare, size):
    """crossing-fins through the relay: the client's FIN #4 held then released in step 11
    ("#4 released <11>"), its retransmission #5 still held ("held #5"); at 80x24 on the packets tab."""
    from tui_fakes import RelayDriver

    app = make_app(load("crossing-fins"), driver_factory=RelayDriver)
    assert snap_compare(app, terminal_size=size, press=["2"] if size == (80, 24) else [])
