"""Scenarios that are not in the catalog: the predictor must follow the kernel's logic.

Each case is a scenario nobody wrote an expectation table for; the test asserts what the kernel
did on the wire (the observed outcome) and that the prediction, made from the socket's state
before the call, agreed with it.
"""

import pytest
from conftest import CONNECT, SERVER, run_text, step, steps

from tuiexplore.timeline import NoteEvent, PacketEvent, StepEvent, VerdictEvent

W = lambda actor, fd, data="hello": step(actor, "write", fd=fd, data=data)  # noqa: E731
R = lambda actor, fd, size=4096: step(actor, "read", fd=fd, size=size)  # noqa: E731
CLOSE = lambda actor, fd: step(actor, "close", fd=fd)  # noqa: E731
OPT = lambda actor, fd, opt, v: step(actor, "setsockopt", fd=fd, option=opt, value=v)  # noqa: E731

CASES = {
    # name: (scenario body, [(actor, fd, observed, branch)] for every verdict in order)
    "partial-read-then-close": (
        W("server", "s") + R("client", "c", 2) + CLOSE("client", "c"),
        [("client", "c", "RST", "data_was_unread")],
    ),
    "server-closes-with-unread": (W("client", "c") + CLOSE("server", "s"), [("server", "s", "RST", "data_was_unread")]),
    "shutdown-rdwr-never-resets": (
        W("server", "s") + step("client", "shutdown", fd="c", how="SHUT_RDWR") + CLOSE("client", "c"),
        [("client", "c", "FIN", "shutdown_fin"), ("client", "c", "RST", "data_was_unread")],
    ),
    "shut-rd-keeps-queue": (
        step("client", "shutdown", fd="c", how="SHUT_RD") + W("server", "s") + CLOSE("client", "c"),
        [("client", "c", "none", "shutdown_none"), ("client", "c", "RST", "data_was_unread")],
    ),
    "linger-positive-acked-fast": (
        OPT("client", "c", "SO_LINGER", [1, 5]) + CLOSE("client", "c"),
        [("client", "c", "FIN", "fin")],
    ),
    "linger-zero-with-unread-is-abort-on-close": (
        W("server", "s") + OPT("client", "c", "SO_LINGER", [1, 0]) + CLOSE("client", "c"),
        [("client", "c", "RST", "data_was_unread")],
    ),
    "close-wait-with-unread": (
        W("client", "c") + CLOSE("client", "c") + CLOSE("server", "s"),
        [("client", "c", "FIN", "fin"), ("server", "s", "RST", "data_was_unread")],
    ),
    "close-wait-all-read": (
        W("client", "c") + CLOSE("client", "c") + R("server", "s") + CLOSE("server", "s"),
        [("client", "c", "FIN", "fin"), ("server", "s", "FIN", "fin")],
    ),
    "linger2-negative-from-established": (
        OPT("client", "c", "TCP_LINGER2", -1) + CLOSE("client", "c"),
        [("client", "c", "RST", "linger2_orphan_ack")],
    ),
    "linger2-negative-with-linger-wait": (
        OPT("client", "c", "TCP_LINGER2", -1) + OPT("client", "c", "SO_LINGER", [1, 3]) + CLOSE("client", "c"),
        [("client", "c", "RST", "linger2_abort")],
    ),
    "linger-zero-in-fin-wait2": (
        step("client", "shutdown", fd="c", how="SHUT_WR") + OPT("client", "c", "SO_LINGER", [1, 0]) + CLOSE("client", "c"),
        [("client", "c", "FIN", "shutdown_fin"), ("client", "c", "RST", "linger_zero")],
    ),
    "linger-zero-in-close-wait": (
        CLOSE("client", "c") + OPT("server", "s", "SO_LINGER", [1, 0]) + R("server", "s") + CLOSE("server", "s"),
        [("client", "c", "FIN", "fin"), ("server", "s", "RST", "linger_zero")],
    ),
    "disconnect-listener": (
        step("client", "socket", as_="c2")
        + step("client", "connect", fd="c2")
        + step("server", "connect", fd="l", family="AF_UNSPEC"),
        [("server", "l", "RST", "disconnect")],
    ),
    "shutdown-rd-on-listener-with-child": (
        step("client", "socket", as_="c2")
        + step("client", "connect", fd="c2")
        + step("server", "shutdown", fd="l", how="SHUT_RD"),
        [("server", "l", "RST", "disconnect")],
    ),
    "server-exit-listener-and-conn": (
        step("client", "socket", as_="c2") + step("client", "connect", fd="c2") + W("client", "c") + step("server", "exit"),
        [("server", "l", "RST", "listen_stop"), ("server", "s", "RST", "data_was_unread")],
    ),
    "exit-skips-linger-wait": (OPT("client", "c", "SO_LINGER", [1, 5]) + step("client", "exit"), [("client", "c", "FIN", "fin")]),
    "close-after-peer-reset": (
        OPT("client", "c", "SO_LINGER", [1, 0]) + W("server", "s") + CLOSE("client", "c") + CLOSE("server", "s"),
        [("client", "c", "RST", "data_was_unread"), ("server", "s", "none", "already_closed")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unseen_scenario(name):
    body, want = CASES[name]
    result = run_text(steps(SERVER, CONNECT, body, title=name), name)
    verdicts = [e for e in result.events if isinstance(e, VerdictEvent)]
    got = [(v.actor, v.fd, v.observed, v.branch) for v in verdicts]
    assert got == want, [v.explanation for v in verdicts]
    assert all(v.agree for v in verdicts), [v.explanation for v in verdicts]
    assert result.ok, result.failures


# backlog 0 admits one connection; the second client's SYN is dropped, so it stays in SYN_SENT
SYN_SENT = (
    step("server", "socket", as_="l")
    + step("server", "bind", fd="l")
    + step("server", "listen", fd="l", backlog=0)
    + step("a", "socket", as_="c")
    + step("a", "connect", fd="c")
    + step("b", "socket", as_="c")
    + step("b", "connect", fd="c", nonblocking=True)
    + step("b", "close", fd="c")
)


def test_syn_sent_close_sends_nothing():
    result = run_text(steps(SYN_SENT, title="syn-sent"))
    v = [e for e in result.events if isinstance(e, VerdictEvent)]
    assert [(x.actor, x.observed, x.branch) for x in v] == [("b", "none", "no_fin")], [x.explanation for x in v]
    assert v[0].agree
    assert any(isinstance(p, PacketEvent) and p.src == "b" and p.flags == "S" for p in result.events)


def test_a_blocking_call_is_reported_and_completes_later():
    # accept() with nobody connecting blocks: the step says so and the lab goes on; the client's
    # connect then lets the kernel return from accept, which a note reports.
    body = (
        step("server", "accept", fd="l", as_="s")
        + step("client", "socket", as_="c")
        + step("client", "connect", fd="c")
        + step("lab", "sleep", ms=100)
        + step("client", "close", fd="c")
    )
    result = run_text(steps(SERVER, body, title="blocking accept"))
    accept = next(e for e in result.events if isinstance(e, StepEvent) and e.call == "accept")
    assert accept.ret is None and accept.result == {"blocked": True}
    late = [e for e in result.events if isinstance(e, NoteEvent) and e.step == accept.step]
    assert late and "accept() returned" in late[0].text
    assert result.ok, result.failures
