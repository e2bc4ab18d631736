"""The explorer driven as a person would, with keys, against a real lab."""

import asyncio

from conftest import CONNECT, SERVER, step, steps
from pilot_wait import until

from tuiexplore.scenarios.scenario import load, parse
from tuiexplore.timeline import VerdictEvent
from tuiexplore.tui.app import ExplorerApp, make_app
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.widgets import ActorLog, VerdictLine, printable


def idle(app: ExplorerApp) -> bool:
    return app.explorer.info is not None and app.explorer.pending == 0 and app.driver is not None and app.driver._requests.empty()


def log_text(app: ExplorerApp, actor: str) -> str:
    log = app.screen.query_one(f"#actor-{actor}", ActorLog)
    return "\n".join("".join(seg.text for seg in strip) for strip in log.lines)


def packet_flags(app: ExplorerApp) -> list[tuple[str, str, str]]:
    return [(p.src, p.dst, p.flags) for p in app.screen.query_one(PacketTable).packets.values()]


def test_seed_with_keys_then_read_first_gives_fin():
    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            assert app.explorer.check_action("manual", ("client", "close")) is None  # dimmed before any socket
            for _ in range(15):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 15 and app.explorer.last_verdict is not None and idle(app))
            await pilot.pause(0.3)
            assert ("client", "server", "R.") in packet_flags(app)
            assert "EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP|EPOLLRDHUP" in log_text(app, "server").replace("\n", "")
            v = app.explorer.last_verdict
            assert (v.observed, v.branch, v.agree) == ("RST", "data_was_unread", True)
            assert "data_was_unread" in app.screen.query_one(KernelView).taken
            assert "1 byte unread" in str(app.screen.query_one(VerdictLine).render())

            await pilot.press("r")
            await until(pilot, lambda: app.explorer.cursor == 0 and not app.screen.query_one(PacketTable).packets and idle(app))
            for _ in range(13):  # up to the server's write of "1"
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 13 and idle(app) and "client" in app.explorer.models)
            await pilot.press("e")  # client read: the byte leaves the receive queue
            await until(pilot, lambda: '"1"' in log_text(app, "client") and idle(app))
            await pilot.press("x")  # client close
            await until(pilot, lambda: app.explorer.last_verdict is not None and idle(app))
            v = app.explorer.last_verdict
            assert (v.observed, v.branch, v.agree) == ("FIN", "fin", True)
            assert ("client", "server", "F.") in packet_flags(app)
            assert "fin" in app.screen.query_one(KernelView).taken

    asyncio.run(body())


def test_seed_server_loop_while_stepping_only_the_client():
    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            await pilot.press("s")  # the server sets itself up and runs the seed's loop
            await until(pilot, lambda: idle(app) and "listener" in app.explorer.models.get("server").listeners)
            for key in ("k", "c", "x"):  # client: socket, connect, close
                await until(
                    pilot,
                    lambda k=key: (
                        app.explorer.check_action("manual", ("client", {"k": "socket", "c": "connect", "x": "close"}[k])) is True
                    ),
                )
                await pilot.press(key)
                await until(pilot, lambda: idle(app))
            await until(pilot, lambda: app.explorer.last_verdict is not None and idle(app))
            client = [e for e in app.explorer.events if isinstance(e, VerdictEvent) and e.actor == "client"]
            assert [(v.observed, v.branch, v.agree) for v in client] == [("RST", "data_was_unread", True)]
            # the loop then sees the reset and closes its side: nothing left to send
            server = [e for e in app.explorer.events if isinstance(e, VerdictEvent) and e.actor == "server"]
            assert [(v.observed, v.branch) for v in server] == [("none", "already_closed")]
            assert "write(conn, data='1') = 1" in log_text(app, "server")
            assert "201d" in log_text(app, "server")

    asyncio.run(body())


# TOML's \u001b escape puts a real ESC byte into the payload.
PAYLOAD_SCENARIO = steps(
    SERVER,
    CONNECT,
    step("server", "write", fd="s", data="[b]x[/b]\\u001b[31m"),
    step("client", "read", fd="c"),
    title="untrusted payload",
)


def test_payload_markup_and_escapes_are_shown_literally():
    async def body():
        app = make_app(parse(PAYLOAD_SCENARIO, "payload.toml", "payload"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(9):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 9 and idle(app) and "read(" in log_text(app, "client"))
            await pilot.pause(0.2)
            text = log_text(app, "client")
            assert '"[b]x[/b]\\x1b[31m"' in text  # the tags as typed, ESC as \x1b
            assert "\x1b" not in text
            # the packet's dissection screen prints the payload as text too
            table = app.screen.query_one(PacketTable)
            data_row = next(i for i, p in enumerate(table.rows) if p.len)
            table.focus()
            table.cursor = data_row
            await pilot.press("enter")
            await pilot.pause(0.3)
            shown = str(app.screen.query("Static").last().render())
            assert "[b]x[/b]" in shown and "\x1b" not in shown

    asyncio.run(body())


def test_printable_neutralises_control_characters():
    assert printable("te-\x1b[31mevil\x07") == "te-\\x1b[31mevil\\x07"


def test_open_another_scenario_from_the_picker():
    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            await pilot.press("o")
            await pilot.pause(0.2)
            picker = app.screen.query_one("#builtins")
            picker.highlighted = [o.id for o in picker.options].index("linger-zero")
            await pilot.press("enter")
            await until(pilot, lambda: app.explorer.scenario.name == "linger-zero" and idle(app))
            for _ in range(len(app.explorer.scenario.steps)):
                await pilot.press("n")
            await until(
                pilot,
                lambda: (
                    app.explorer.cursor == len(app.explorer.scenario.steps)
                    and app.explorer.last_verdict is not None
                    and idle(app)
                ),
            )
            assert (app.explorer.last_verdict.observed, app.explorer.last_verdict.branch) == ("RST", "linger_zero")

    asyncio.run(body())


def test_demo_autoplays_to_the_end_with_every_narration():
    async def body():
        scn = load("seed-rst")
        app = make_app(scn, autoplay=True, pause_s=0.2)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(
                pilot, lambda: app.explorer.cursor == len(scn.steps) and idle(app) and not app.explorer.autoplay.on, timeout=60
            )
            logs = (log_text(app, "server") + log_text(app, "client")).replace("\n", " ")
            for step in scn.steps:
                if step.say:
                    assert f"» {step.say}"[:30] in logs, step.say
            assert app.explorer.last_verdict.observed == "RST"

    asyncio.run(body())


def test_a_call_for_a_blocked_actor_is_refused_and_the_lab_carries_on():
    """Issue 9's ``n n n n A A``: the second accept() is refused (the first is still in the
    kernel), said in the server's log; the lab does not fail and the client still steps."""

    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: idle(app))
            for _ in range(4):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 4 and idle(app) and "server" in app.explorer.models)
            await pilot.press("A")
            await until(pilot, lambda: "blocked (still" in log_text(app, "server") and idle(app), timeout=10)
            await pilot.press("A")
            await until(pilot, lambda: "refused:" in log_text(app, "server") and idle(app))
            assert "server is still blocked in accept() from step 5" in " ".join(log_text(app, "server").split())
            assert app.error == ""
            await pilot.press("k")  # the client is not blocked: its socket() runs
            await until(pilot, lambda: "[ 7] socket" in log_text(app, "client") and idle(app))

    asyncio.run(body())


def test_shutdown_verdict_marks_no_tcp_close_line():
    from tui_fakes import ShutdownDriver

    async def body():
        app = make_app(load("half-close"), driver_factory=ShutdownDriver)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.explorer.last_verdict is not None)
            await pilot.pause(0.1)
            kernel = app.screen.query_one(KernelView)
            assert app.explorer.last_verdict.call == "shutdown" and kernel.taken == ["shutdown_fin"]
            assert kernel.lines_of(kernel.taken) == set()
            assert "tcp_shutdown()" in str(kernel.query_one("#kernel-notes").render())

    asyncio.run(body())


def test_a_killed_lab_is_reported_at_once_and_its_step_not_counted():
    """Issue 9: the agent killed under the TUI is said at once, with how it died, before any
    key; the next n does not count a step that never ran; r brings a fresh lab and clears it."""
    import os
    import signal

    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: idle(app))
            for _ in range(2):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 2 and idle(app))
            os.kill(app.driver._session.lab.pid, signal.SIGKILL)
            await until(pilot, lambda: "killed by SIGKILL" in app.explorer.problem, timeout=10)
            status = str(app.screen.query_one("#status").render())
            assert "step 2/15" in status and "killed by SIGKILL" in status
            await pilot.press("n")
            await until(pilot, lambda: idle(app))
            await pilot.pause(0.3)
            assert app.explorer.cursor == 2 and "[ 3]" not in log_text(app, "server")
            await pilot.press("r")
            await until(pilot, lambda: app.explorer.problem == "" and idle(app))
            assert app.error == ""

    asyncio.run(body())
