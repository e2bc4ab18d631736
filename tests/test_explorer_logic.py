"""The explorer's UI logic with a fake driver (no lab): late results of a replaced lab are
dropped, a failed background job is said, the report dialogs open from their keys, the export
says where it went; and the key table and palette entries as plain data."""

import asyncio
from types import SimpleNamespace

from tui_fakes import EVENTS, INFO, SOCKETS, FakeDriver

from tuiexplore.domain import StepDone
from tuiexplore.reports import export
from tuiexplore.reports.details import table_text, verdict_text
from tuiexplore.scenarios.scenario import load
from tuiexplore.session import FdModel
from tuiexplore.timeline import NoteEvent, StateEvent, StepEvent, VerdictEvent
from tuiexplore.tui.actor_logs import ActorLogs
from tuiexplore.tui.app import make_app
from tuiexplore.tui.autoplay import Autoplay
from tuiexplore.tui.keys import CLIENT_KEYS, SERVER_KEYS, manual_args, palette_calls
from tuiexplore.tui.messages import LabEvents, StepFinished
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.replay import replay_factory
from tuiexplore.tui.screens import HelpScreen, TextScreen
from tuiexplore.tui.widgets import ActorLog


def test_results_of_a_replaced_lab_are_dropped():
    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.2)
            ex = app.explorer
            assert ex.events and ex.cursor > 0
            await pilot.press("r")  # a fresh lab: generation 1; the fake driver sends nothing more
            await pilot.pause(0.1)
            assert ex.generation == 1 and ex.events == [] and ex.cursor == 0
            late = StepFinished(StepDone(15, True, 0.0, 0.0), {}, {}, 15, [], {}, {}, generation=0)
            ex.post_message(LabEvents(list(EVENTS), generation=0))
            ex.post_message(late)
            await pilot.pause(0.1)
            assert ex.events == [] and ex.cursor == 0 and not app.screen.query_one(PacketTable).packets
            ex.post_message(LabEvents(list(EVENTS[:3]), generation=1))
            await pilot.pause(0.1)
            assert ex.events == EVENTS[:3]

    asyncio.run(body())


def test_a_failed_worker_is_shown_in_a_toast_and_the_status_line():
    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver, kernel_src="/nonexistent/tree", find_source=True)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.5)
            assert "finding tcp.c failed: SourceError" in app.explorer.problem
            assert any("finding tcp.c failed" in n.message for n in app._notifications)
            assert "finding tcp.c failed" in str(app.screen.query_one("#status").render())

    asyncio.run(body())


def test_the_report_dialogs_open_from_their_keys():
    """d, t and ? each open their own dialog; v is dimmed and opens nothing until there is a
    verdict, then opens that verdict's."""
    [verdict] = [e for e in EVENTS if isinstance(e, VerdictEvent)]
    before = [e for e in EVENTS if e is not verdict]

    async def body():
        app = make_app(load("seed-rst"), driver_factory=replay_factory(INFO, before, SOCKETS))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            ex = app.explorer
            assert ex.events == before and ex.last_verdict is None

            async def opened(key: str) -> object:
                await pilot.press(key)
                await pilot.pause(0.1)
                top = app.screen
                if top is not ex:
                    await pilot.press("escape")
                    await pilot.pause(0.1)
                    assert app.screen is ex
                return top

            assert ex.check_action("dialog", ("verdict",)) is None and not ex.active_bindings["v"].enabled
            assert await opened("v") is ex
            ladder = await opened("d")
            assert isinstance(ladder, TextScreen) and ladder.title_text == "The exchange as a ladder diagram"
            assert "[R.]" in ladder.body  # the client's RST, drawn between the actors
            table = await opened("t")
            assert isinstance(table, TextScreen) and table.title_text.startswith(table_text(ex.excerpt)[0])
            assert isinstance(await opened("question_mark"), HelpScreen)
            ex.post_message(LabEvents([verdict], generation=ex.generation))
            await pilot.pause(0.1)
            assert ex.last_verdict == verdict and ex.active_bindings["v"].enabled
            shown = await opened("v")
            assert isinstance(shown, TextScreen) and shown.title_text == verdict_text(verdict, ex.events, ex.excerpt)[0]

    asyncio.run(body())


def test_export_writes_the_bundle_or_says_why_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("ctrl+e")
            await pilot.pause(0.2)
            [bundle] = tmp_path.iterdir()
            assert {"timeline.jsonl", "transcript.md", "screen.svg"} <= {f.name for f in bundle.iterdir()}
            assert app._notifications and list(app._notifications)[-1].message == f"exported to {bundle}"

            def full(*args: object) -> None:
                raise OSError(28, "No space left on device", "transcript.md")

            monkeypatch.setattr(export, "write", full)
            await pilot.press("ctrl+e")
            await pilot.pause(0.2)
            last = list(app._notifications)[-1]
            assert (last.message, last.severity) == ("export failed: No space left on device: transcript.md", "error")

    asyncio.run(body())


def test_manual_keys_follow_what_the_actor_holds():
    m = FdModel()
    assert manual_args("client", "socket", m) == ("socket", {"as": "sock"})
    assert manual_args("client", "connect", m) is None and manual_args("client", "close", m) is None
    m.sockets.append("sock")
    assert manual_args("client", "connect", m) == ("connect", {"fd": "sock"})
    assert manual_args("client", "write", m) is None  # not connected yet
    m.connected.add("sock")
    assert manual_args("client", "write", m) == ("write", {"fd": "sock", "data": "x"})
    assert manual_args("server", "write", m) == ("write", {"fd": "sock", "data": "1"})
    assert manual_args("client", "linger0", m) == ("setsockopt", {"fd": "sock", "option": "SO_LINGER", "value": [1, 0]})
    assert manual_args("client", "socket", m) == ("socket", {"as": "sock2"})
    lst = FdModel(sockets=["listener"], listeners={"listener"}, epolls=["ep"])
    assert manual_args("server", "accept", lst) == ("accept", {"fd": "listener", "as": "conn"})
    assert manual_args("server", "epoll_wait", lst) == ("epoll_wait", {"ep": "ep", "timeout_ms": 0})
    assert manual_args("server", "close", lst) is None  # a listener is not the default close target
    assert manual_args("client", "exit", FdModel(exited=True)) is None
    keys = [k for k, _, _ in CLIENT_KEYS + SERVER_KEYS]
    assert len(keys) == len(set(keys))  # no key bound twice


def test_palette_entries():
    empty = [title for title, _, _ in palette_calls("client", FdModel())]
    assert empty == ["socket()", "epoll_create()", "exit()", "sleep 200 ms"]
    m = FdModel(sockets=["sock"], epolls=["ep"])
    entries = {title: (call, args) for title, call, args in palette_calls("client", m)}
    assert entries["shutdown(sock, SHUT_WR)"] == ("shutdown", {"fd": "sock", "how": "SHUT_WR"})
    assert entries["connect(sock, AF_UNSPEC) — disconnect"] == ("connect", {"fd": "sock", "family": "AF_UNSPEC"})
    assert entries["epoll_wait(ep, 1 s)"] == ("epoll_wait", {"ep": "ep", "timeout_ms": 1000})
    assert entries["socket()"] == ("socket", {"as": "sock2"})


def test_the_sessions_fd_model_follows_the_step_results():
    from tuiexplore.session import Session
    from tuiexplore.timeline import StepEvent

    seen = []
    s = Session(load("seed-rst"), on_batch=lambda events, generation: seen.append(generation))

    def ev(n, actor, call, args, ret=0, errno=None, **result):
        return StepEvent(float(n), n, actor, call, args, ret, errno, result)

    s._batch(
        [
            ev(1, "server", "socket", {"as": "listener"}, ret=3, fd="listener"),
            ev(2, "server", "listen", {"fd": "listener"}),
            ev(3, "server", "accept", {"fd": "listener", "as": "conn"}, ret=None, blocked=True),
            ev(4, "client", "socket", {"as": "sock"}, ret=3, fd="sock"),
            ev(5, "client", "connect", {"fd": "sock", "nonblocking": True}, ret=-1, errno="EINPROGRESS"),
            ev(6, "server", "epoll_create", {"as": "ep"}, ret=4, fd="ep"),
            ev(7, "client", "socket", {"as": "sock2"}, ret=-1, errno="EMFILE"),
        ],
        0,
    )
    server, client = s.model("server"), s.model("client")
    assert (server.sockets, server.listeners, server.epolls) == (
        ["listener"],
        {"listener"},
        ["ep"],
    )  # the blocked accept made nothing
    assert (client.sockets, client.connected) == (["sock"], {"sock"})  # EINPROGRESS connects; EMFILE made nothing
    s._batch([ev(8, "client", "connect", {"fd": "sock", "family": "AF_UNSPEC"}), ev(9, "server", "close", {"fd": "listener"})], 0)
    assert client.connected == set() and server.sockets == [] and server.listeners == set()
    s._batch([ev(10, "client", "exit", {})], 0)
    assert s.model("client").exited
    s._batch([ev(11, "server", "socket", {"as": "x"}, ret=5, fd="x")], 7)  # from a replaced lab: ignored
    assert s.model("server").sockets == [] and seen == [0, 0, 0]


def test_the_palette_offers_each_actors_calls():
    from textual.command import CommandPalette

    from tuiexplore.tui.commands import ActorCalls

    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause(0.2)
            explorer = app.explorer
            explorer.models = {"client": FdModel(sockets=["sock"])}
            provider = ActorCalls(explorer)
            hits = [hit async for hit in provider.search("client: shutdown(sock")]
            assert [str(h.text) for h in hits][:1] and all("client: shutdown(sock" in str(h.text) for h in hits[:3])
            app.action_command_palette()
            await pilot.pause(0.2)
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"server: socket")
            await pilot.pause(0.5)
            assert "server: socket()" in " ".join(str(o.prompt) for o in app.screen.query("CommandList").first().options)

    asyncio.run(body())


class Player:
    """A screen as autoplay sees it (tui.autoplay.Player)."""

    def __init__(self, steps: int) -> None:
        self.scenario = SimpleNamespace(steps=[None] * steps)
        self.cursor, self.pending, self.info = 0, 0, object()
        self.calls: list[tuple] = []

    def action_next(self) -> None:
        self.cursor += 1

    def restart(self) -> None:
        self.calls.append(("restart",))
        self.cursor = 0

    def update_status(self) -> None:
        self.calls.append(("status",))

    def notify(self, message: str, *, timeout: float) -> None:
        self.calls.append(("notify", message))

    def set_timer(self, delay: float, callback):  # noqa: ANN001, ANN201
        self.calls.append(("timer", delay))
        self.due = callback
        return Timerless()


class Timerless:
    def stop(self) -> None:
        pass


def test_autoplay_plays_each_step_after_its_pause_and_stops_at_the_end():
    screen = Player(steps=2)
    play = Autoplay(screen, on=False, pause_s=2.0)
    play.schedule()
    assert screen.calls == [] and play.every_s is None  # off: nothing scheduled
    play.toggle()
    assert play.on and ("timer", 2.0) in screen.calls and play.every_s == 2.0
    screen.pending = 1  # a step in flight: the next waits for the lab
    screen.calls.clear()
    play.schedule()
    assert not [c for c in screen.calls if c[0] == "timer"]
    screen.pending = 0
    for _ in range(2):
        play.schedule()
        screen.due()
    assert screen.cursor == 2
    play.schedule()  # the scenario is done: autoplay stops and says so
    assert not play.on and any(c[0] == "notify" and "done" in c[1] for c in screen.calls)
    play.pace(-10)
    assert play.pause_s == 0.5
    play.pace(+100)
    assert play.pause_s == 30.0
    play.toggle()  # a again at the end: plays from the start
    assert ("restart",) in screen.calls and play.on


def test_the_actors_panel_takes_each_actors_events():
    """ActorLogs: a step's line (its narration under it), a note in its step's actor's log even
    when it comes first in the batch, a state change of nobody's socket left out, a new actor's panel
    made on first use; warnings are toasts, not lines."""

    async def body():
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            ex = app.explorer
            logs = ex.query_one(ActorLogs)
            logs.origin[98], logs.narrations[98] = "scenario", "the client says hello"  # as StepStarted says
            batch = [
                NoteEvent(9.0, "info", "a note before its step", step=99),
                StepEvent(9.0, 98, "client", "write", {"fd": "conn", "data": "hi"}, 2, None, {}),
                StepEvent(9.1, 99, "helper", "close", {"fd": "conn"}, 0, None, {}),
                StateEvent(9.2, "?", "ghost", "SYN_RECV", "CLOSE", "trace"),
                NoteEvent(9.3, "warn", "a warning", step=99),
            ]
            ex.post_message(LabEvents(batch, generation=ex.generation))
            await pilot.pause(0.2)
            client = [e.plain for e in ex.query_one("#actor-client", ActorLog).entries]
            at = next(i for i, line in enumerate(client) if line.startswith("[98] write("))
            assert client[at + 1] == "  » the client says hello"
            helper = [e.plain for e in ex.query_one("#actor-helper", ActorLog).entries]
            assert helper[0] == "  · a note before its step" and helper[1].startswith("[99] close(")
            assert not any("ghost" in e.plain for log in ex.query(ActorLog) for e in log.entries)
            assert not any("a warning" in e.plain for log in ex.query(ActorLog) for e in log.entries)

    asyncio.run(body())
