"""The explorer's UI logic with a fake driver (no lab): late results of a replaced lab are
dropped, a failed background job is said; and the key table and palette entries as plain data."""

import asyncio

from tui_fakes import EVENTS, FakeDriver

from tuiexplore.domain import StepDone
from tuiexplore.scenarios.scenario import load
from tuiexplore.session import FdModel
from tuiexplore.tui.app import make_app
from tuiexplore.tui.keys import CLIENT_KEYS, SERVER_KEYS, manual_args, palette_calls
from tuiexplore.tui.messages import LabEvents, StepFinished
from tuiexplore.tui.packets import PacketTable


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
