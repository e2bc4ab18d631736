"""More unseen-style scenarios, in classes the first set never met: several listeners and
children, mixed SO_LINGER and shutdown orders, data racing a FIN, full and zero windows with
their probes, half-open connections, more than two actors, one process holding both ends,
edge-triggered epoll masks after each kind of teardown.

Each asserts what the kernel did (observed outcome, packets, epoll masks) and that the
prediction, made from the kernel's state before the call, agreed.
"""

import pytest
from conftest import CONNECT, SERVER, run_text, step, steps

from tuiexplore.timeline import EpollEvent, PacketEvent, StepEvent, VerdictEvent

W = lambda actor, fd, data="hello": step(actor, "write", fd=fd, data=data)  # noqa: E731
R = lambda actor, fd, size=65536: step(actor, "read", fd=fd, size=size)  # noqa: E731
CLOSE = lambda actor, fd: step(actor, "close", fd=fd)  # noqa: E731
OPT = lambda actor, fd, opt, v: step(actor, "setsockopt", fd=fd, option=opt, value=v)  # noqa: E731
SHUT = lambda actor, fd, how="SHUT_WR": step(actor, "shutdown", fd=fd, how=how)  # noqa: E731
SLEEP = lambda ms: step("lab", "sleep", ms=ms)  # noqa: E731


def client(name, fd="c", port=None):
    extra = {"port": port} if port else {}
    return step(name, "socket", as_=fd) + step(name, "connect", fd=fd, **extra)


def reset(name, fd="c"):
    return OPT(name, fd, "SO_LINGER", [1, 0]) + CLOSE(name, fd)


# A server whose receive window is exactly 4096 bytes, and a client on it (fds l, c, s).
SMALL_WINDOW = (
    step("server", "socket", as_="l")
    + OPT("server", "l", "SO_RCVBUF", 4096)
    + step("server", "bind", fd="l")
    + step("server", "listen", fd="l")
    + client("client")
    + step("server", "accept", fd="l", as_="s")
)
FILL = step("client", "write", fd="c", size=4096) + SLEEP(60)
EPOLL_ET = step("server", "epoll_create", as_="ep") + step(
    "server", "epoll_ctl", ep="ep", op="ADD", fd="s", events=["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLET"]
)
WAIT = step("server", "epoll_wait", ep="ep", timeout_ms=100)
SECOND = 40123  # a second listener's port (the lab namespace is private: always free)

# backlog 0 admits one child; the next client's SYN is dropped (tcp_conn_request(): accept
# queue full), so it stays in SYN_SENT with a SYN in flight: a connection only one side knows of.
HALF_OPEN = (
    step("server", "socket", as_="l")
    + step("server", "bind", fd="l")
    + step("server", "listen", fd="l", backlog=0)
    + client("a")
    + step("b", "socket", as_="c")
    + step("b", "connect", fd="c", nonblocking=True)
)

CASES = {
    "half-open-syn-sent-linger-zero": (
        steps(HALF_OPEN, reset("b")),
        [("b", "c", "none", "linger_zero")],
    ),
    "half-open-syn-sent-shutdown": (
        steps(HALF_OPEN, SHUT("b", "c", "SHUT_RDWR"), CLOSE("b", "c")),
        [("b", "c", "none", "disconnect"), ("b", "c", "none", "already_closed")],
    ),
    # name: (scenario text, [(actor, fd, observed, branch)] for every verdict in order)
    "listener-mixed-children": (
        steps(SERVER, client("a"), client("b"), client("d"), SHUT("b", "c"), reset("d"), CLOSE("server", "l")),
        [("b", "c", "FIN", "shutdown_fin"), ("d", "c", "RST", "linger_zero"), ("server", "l", "RST", "listen_stop")],
    ),
    "listener-every-child-reset": (
        steps(SERVER, client("a"), client("b"), reset("a"), reset("b"), CLOSE("server", "l")),
        [("a", "c", "RST", "linger_zero"), ("b", "c", "RST", "linger_zero"), ("server", "l", "none", "listen_stop")],
    ),
    "two-listeners-one-with-a-dead-child": (
        steps(
            SERVER,
            step("server", "socket", as_="l2"),
            step("server", "bind", fd="l2", port=SECOND),
            step("server", "listen", fd="l2"),
            client("a"),
            client("b", port=SECOND),
            reset("b"),
            CLOSE("server", "l2"),
            CLOSE("server", "l"),
        ),
        [("b", "c", "RST", "linger_zero"), ("server", "l2", "none", "listen_stop"), ("server", "l", "RST", "listen_stop")],
    ),
    "disconnect-listener-dead-child": (
        steps(SERVER, client("a"), reset("a"), step("server", "connect", fd="l", family="AF_UNSPEC")),
        [("a", "c", "RST", "linger_zero"), ("server", "l", "none", "disconnect")],
    ),
    "shutdown-rdwr-listener-close-wait-child": (
        steps(SERVER, client("a"), SHUT("a", "c"), SHUT("server", "l", "SHUT_RDWR")),
        [("a", "c", "FIN", "shutdown_fin"), ("server", "l", "RST", "disconnect")],
    ),
    "accept-a-reset-child-then-close": (
        steps(SERVER, client("a"), reset("a"), step("server", "accept", fd="l", as_="s"), CLOSE("server", "s")),
        [("a", "c", "RST", "linger_zero"), ("server", "s", "none", "already_closed")],
    ),
    "listener-gone-client-close": (
        steps(SERVER, client("a"), CLOSE("server", "l"), CLOSE("a", "c")),
        [("server", "l", "RST", "listen_stop"), ("a", "c", "none", "already_closed")],
    ),
    "shutdown-behind-full-window": (
        steps(SMALL_WINDOW, FILL, SHUT("client", "c"), R("server", "s"), R("server", "s"), CLOSE("server", "s")),
        [("client", "c", "none", "shutdown_fin"), ("server", "s", "FIN", "fin")],
    ),
    "full-window-close-then-probes": (
        steps(SMALL_WINDOW, FILL, CLOSE("client", "c"), SLEEP(700), R("server", "s"), CLOSE("server", "s")),
        [("client", "c", "none", "fin"), ("server", "s", "FIN", "fin")],
    ),
    "full-window-linger-close-gives-up": (
        steps(SMALL_WINDOW, FILL, OPT("client", "c", "SO_LINGER", [1, 1]), CLOSE("client", "c")),
        [("client", "c", "none", "fin")],
    ),
    "window-one-byte-short": (
        steps(SMALL_WINDOW, step("client", "write", fd="c", size=4095), SLEEP(60), CLOSE("client", "c")),
        [("client", "c", "FIN", "fin")],
    ),
    "peer-data-after-our-shutdown": (
        steps(SERVER, CONNECT, SHUT("client", "c"), W("server", "s", "late"), CLOSE("client", "c")),
        [("client", "c", "FIN", "shutdown_fin"), ("client", "c", "RST", "data_was_unread")],
    ),
    "data-races-the-peers-fin": (
        steps(SERVER, CONNECT, W("client", "c", "last words"), CLOSE("client", "c"), R("server", "s"), CLOSE("server", "s")),
        [("client", "c", "FIN", "fin"), ("server", "s", "FIN", "fin")],
    ),
    "linger-zero-then-shutdown-then-close": (
        steps(SERVER, CONNECT, OPT("client", "c", "SO_LINGER", [1, 0]), SHUT("client", "c"), CLOSE("client", "c")),
        [("client", "c", "FIN", "shutdown_fin"), ("client", "c", "RST", "linger_zero")],
    ),
    "peer-shutdown-then-linger-zero-close": (
        steps(SERVER, CONNECT, SHUT("server", "s"), reset("client"), CLOSE("server", "s")),
        [
            ("server", "s", "FIN", "shutdown_fin"),
            ("client", "c", "RST", "linger_zero"),
            ("server", "s", "none", "already_closed"),
        ],
    ),
    "three-clients-server-exits": (
        steps(
            SERVER,
            client("a"),
            step("server", "accept", fd="l", as_="sa"),
            client("b"),
            step("server", "accept", fd="l", as_="sb"),
            client("d"),
            W("a", "c", "unread"),
            SHUT("b", "c"),
            step("server", "exit"),
        ),
        [
            ("b", "c", "FIN", "shutdown_fin"),
            ("server", "l", "RST", "listen_stop"),
            ("server", "sa", "RST", "data_was_unread"),
            ("server", "sb", "FIN", "fin"),
        ],
    ),
    "exit-listener-above-its-own-client": (
        steps(
            step("server", "socket", as_="c"),
            step("server", "socket", as_="l"),
            OPT("server", "l", "SO_REUSEADDR", 1),
            step("server", "bind", fd="l"),
            step("server", "listen", fd="l"),
            step("server", "connect", fd="c"),
            step("server", "exit"),
        ),
        [("server", "c", "none", "already_closed"), ("server", "l", "RST", "listen_stop")],
    ),
    "exit-holding-a-clean-pair": (
        steps(
            SERVER,
            step("server", "socket", as_="c"),
            step("server", "connect", fd="c"),
            step("server", "accept", fd="l", as_="s"),
            step("server", "exit"),
        ),
        [("server", "l", "none", "listen_stop"), ("server", "c", "FIN", "fin"), ("server", "s", "FIN", "fin")],
    ),
    "exit-holding-a-pair-and-its-reset-child": (
        steps(
            SERVER,
            step("server", "socket", as_="c"),
            step("server", "connect", fd="c"),
            step("server", "accept", fd="l", as_="s"),
            client("a"),
            reset("a"),
            W("server", "c", "x"),
            step("server", "exit"),
        ),
        [
            ("a", "c", "RST", "linger_zero"),
            ("server", "l", "none", "listen_stop"),
            ("server", "c", "none", "already_closed"),
            ("server", "s", "RST", "data_was_unread"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unseen_kernel_scenario(name):
    text, want = CASES[name]
    result = run_text(text.replace('title = "unseen"', f'title = "{name}"', 1), name)
    verdicts = [e for e in result.events if isinstance(e, VerdictEvent)]
    got = [(v.actor, v.fd, v.observed, v.branch) for v in verdicts]
    assert got == want, [v.explanation for v in verdicts]
    assert all(v.agree for v in verdicts), [v.explanation for v in verdicts]
    assert result.ok, result.failures


def test_zero_window_probes_carry_no_fin():
    # tcp_send_fin() armed the probe timer (the FIN-only skb cannot go); tcp_write_wakeup() finds
    # the window shut and sends tcp_xmit_probe_skb(): a bare ACK with the old sequence number.
    text, _ = CASES["full-window-close-then-probes"]
    result = run_text(text, "probes")
    sleep = next(e.step for e in result.events if isinstance(e, StepEvent) and e.call == "sleep" and e.args["ms"] == 700)
    during = [p for p in result.events if isinstance(p, PacketEvent) and p.step == sleep]
    probes = [p for p in during if p.src == "client" and p.flags == "." and p.len == 0]
    answers = [p for p in during if p.src == "server" and p.win == 0]
    assert probes and answers, [p.tcpdump() for p in during]
    assert not any("F" in p.flags for p in during)


# tcp_poll(): RCV_SHUTDOWN gives IN|RDHUP, SHUTDOWN_MASK or CLOSE adds HUP, sk_err adds ERR; OUT
# stays while the send side is writable or shut. Edge-triggered: one report per wakeup.
ET_CASES = {
    "peer-fin": (CLOSE("client", "c"), ["4", "2005", None]),
    "peer-reset": (reset("client"), ["4", "201d", None]),
    "peer-fin-then-orphan-reset": (CLOSE("client", "c") + WAIT + W("server", "s", "late"), ["4", "2005", "201d", None]),
    "own-shutdown-then-peer-fin": (SHUT("server", "s") + WAIT + CLOSE("client", "c"), ["4", "4", "2015", None]),
    "listener-stop-resets-the-client": (None, ["4", "201d", None]),
}


@pytest.mark.parametrize("name", sorted(ET_CASES))
def test_epoll_edge_triggered_after_teardown(name):
    teardown, want = ET_CASES[name]
    if teardown is None:  # the client's own epoll watches a connection nobody accepted
        body = (
            SERVER
            + client("client")
            + step("client", "epoll_create", as_="ep")
            + step("client", "epoll_ctl", ep="ep", op="ADD", fd="c", events=["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLET"])
            + step("client", "epoll_wait", ep="ep", timeout_ms=100)
            + CLOSE("server", "l")
            + step("client", "epoll_wait", ep="ep", timeout_ms=100) * 2
        )
    else:
        body = SERVER + CONNECT + EPOLL_ET + WAIT + teardown + WAIT + WAIT
    result = run_text(steps(body, title=name), name)
    waits = [e for e in result.events if isinstance(e, StepEvent) and e.call == "epoll_wait"]
    masks = {e.step: e.mask for e in result.events if isinstance(e, EpollEvent)}
    assert [masks.get(w.step) for w in waits] == want
    assert result.ok, result.failures


def test_a_pending_child_is_named_after_its_listener():
    from tuiexplore.reports.transcript import line
    from tuiexplore.timeline import StateEvent

    result = run_text(steps(SERVER, client("a"), CLOSE("server", "l")), "pending")
    pending = [e for e in result.events if isinstance(e, StateEvent) and e.fd == "?"]
    assert pending and all(e.actor == "server" and e.listener == "l" for e in pending)
    assert "state    server l's new connection (not accepted yet): " in line(pending[0])
    assert "listener" not in pending[0].to_dict()  # the stream keeps the contract's fields


def test_listen_stop_resets_only_the_live_children():
    text, _ = CASES["listener-mixed-children"]
    result = run_text(text, "mixed")
    close = next(e.step for e in result.events if isinstance(e, StepEvent) and e.call == "close" and e.actor == "server")
    sent = [(p.src, p.dst, p.flags) for p in result.events if isinstance(p, PacketEvent) and p.step == close]
    # a: ESTABLISHED child, b: CLOSE_WAIT child (its client shut down), d: reset by its client
    assert sorted(sent) == [("server", "a", "R."), ("server", "b", "R.")]
