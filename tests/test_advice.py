"""The advice line of every closing verdict: one for every branch id the project defines (the
manual's branch page, predict.py's BRANCHES, still_referenced), said from the socket's state, and carried
to the JSON stream (an added field: older streams still read)."""

import json
import re
from pathlib import Path

import pytest

from tuiexplore.domain import SocketRow
from tuiexplore.lab.advice import UNHELD, advise
from tuiexplore.lab.predict import BRANCHES, STILL_REFERENCED, SocketView, predict_close, predict_shutdown
from tuiexplore.lab.receipt_branches import RECEIPT_BRANCHES
from tuiexplore.lab.timerpath import TIMER_BRANCHES
from tuiexplore.lab.verdict import judge
from tuiexplore.timeline import VerdictEvent, from_wire

BRANCH_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "branches.md"
V = (6, 12, 0)


def documented_branch_ids() -> set[str]:
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", BRANCH_PAGE.read_text(), re.M))


def sock(state="ESTABLISHED", **kw) -> SocketRow:
    return SocketRow("s", 3, state, **kw)


# (branch, outcome, socket before the call, call, words the advice must say)
TABLE = [
    ("data_was_unread", "RST", sock(inq=1), "close", ["1 byte the peer sent was never read", "read() returns 0", "ECONNRESET"]),
    ("data_was_unread", "RST", sock(inq=5), "exit_group", ["5 bytes the peer sent were never read", "before exit_group()"]),
    ("linger_zero", "RST", sock(linger=(1, 0)), "close", ["SO_LINGER {1, 0}", "no TIME_WAIT", "free the port", "EPIPE"]),
    ("linger_zero", "none", sock("SYN_SENT", linger=(1, 0)), "close", ["nothing to reset"]),
    ("fin", "FIN", sock(), "close", ["clean close", "TIME_WAIT"]),
    ("fin", "FIN", sock("CLOSE_WAIT"), "close", ["clean close", "the peer closed first"]),
    ("fin", "none", sock(unsent=3), "close", ["behind 3 bytes unsent", "not reading"]),
    ("no_fin", "none", sock("SYN_SENT"), "close", ["abandoned"]),
    ("no_fin", "none", sock("FIN_WAIT1"), "close", ["FIN went out earlier"]),
    ("linger2_abort", "RST", sock("FIN_WAIT2", linger2=-1), "close", ["TCP_LINGER2 < 0", "ECONNRESET"]),
    ("linger2_orphan_ack", "RST", sock(linger2=-1), "close", ["TCP_LINGER2 < 0"]),
    ("listen_stop", "RST", sock("LISTEN", accept_queue=2), "close", ["2 connections still in the accept queue", "accept()"]),
    ("listen_stop", "none", sock("LISTEN"), "close", ["no connection was waiting"]),
    ("already_closed", "none", sock("CLOSE", inq=4), "close", ["already gone", "4 bytes still unread are dropped"]),
    ("shutdown_fin", "FIN", sock(), "shutdown", ["half-close", "read() returns 0"]),
    ("shutdown_none", "none", sock(), "shutdown", ["SHUT_RD", "SHUT_WR"]),
    ("shutdown_none", "none", sock("CLOSE"), "shutdown", ["nothing to send in CLOSE"]),
    ("disconnect", "RST", sock(), "connect", ["resets an established connection", "ECONNRESET"]),
    ("disconnect", "none", sock("SYN_SENT"), "connect", ["nothing to reset"]),
    (STILL_REFERENCED, "none", sock(), "close", ["another fd", "dup()", "shutdown(SHUT_WR)"]),
    # A wait step's timer (lab/timerpath.py)
    ("retransmit", "none", sock(), "wait", ["retransmits", "TCP_USER_TIMEOUT"]),
    ("write_timeout", "none", sock(), "wait", ["ETIMEDOUT", "TCP_USER_TIMEOUT"]),
    ("keepalive_probe", "none", sock(), "wait", ["TCP_KEEPIDLE"]),
    ("keepalive_abort", "RST", sock(), "wait", ["ETIMEDOUT", "reconnect", "ECONNRESET"]),
    ("keepalive_busy", "none", sock(), "wait", ["in flight"]),
    ("orphan_fin_wait2_timewait", "none", sock("FIN_WAIT2"), "wait", ["tcp_fin_timeout"]),
    ("orphan_fin_wait2_reset", "RST", sock("FIN_WAIT2"), "wait", ["close its side", "ECONNRESET"]),
    ("timewait_end", "none", sock("TIME_WAIT"), "wait", ["RST from no socket"]),
    ("zero_window_probe", "none", sock(), "wait", ["window is zero"]),
]


def test_the_table_covers_every_branch_id_the_project_defines():
    ids = documented_branch_ids()
    assert ids == set(BRANCHES) | set(TIMER_BRANCHES), "the manual's branch page and the code differ (run scripts/gen_docs.py)"
    # A received segment's branches (lab/receipt.py) have theirs checked in tests/test_receipt.py.
    assert {row[0] for row in TABLE} | set(RECEIPT_BRANCHES) == ids | {STILL_REFERENCED}


@pytest.mark.parametrize("branch,outcome,s,call,words", TABLE, ids=[f"{r[0]}-{r[1]}-{r[2].state}" for r in TABLE])
def test_advice_for_each_branch(branch, outcome, s, call, words):
    text = advise(branch, outcome, s, call)
    assert "\n" not in text
    for w in words:
        assert w in text, (w, text)
    assert ("ECONNRESET on read()" in text) == (outcome == "RST" and branch != "listen_stop")


def test_a_verdict_whose_prediction_failed_gives_no_branch_advice():
    assert advise("fin", "FIN", sock(), held=False) == UNHELD
    assert advise("an_unknown_id", "FIN", sock()) == ""


def test_the_verdict_event_carries_the_advice_to_the_json_stream():
    s = SocketRow("sock", 3, "ESTABLISHED", inq=1, lport=1, rport=2)
    pred = predict_close(SocketView("ESTABLISHED", inq=1), V)
    v = judge(t=0, step=1, actor="client", call="close", sock=s, pred=pred, frames=[], resets=[], deltas={}, others=set())
    assert not v.agree and v.advice == UNHELD  # no frames: the RST was not seen
    pred = predict_shutdown(SocketView("ESTABLISHED"), "SHUT_WR", V)
    d = json.loads(VerdictEvent(0, 1, "c", "s", "shutdown", "FIN", "FIN", pred.branch, None, {}, True, advice="x").to_json())
    assert d["advice"] == "x"
    old = {k: v for k, v in d.items() if k != "advice"}  # a stream from before the field
    assert from_wire(old).advice == ""


def test_the_transcript_gives_the_advice_its_own_line():
    from tuiexplore.reports.transcript import line

    v = VerdictEvent(0, 14, "client", "sock", "close", "RST", "RST", "data_was_unread", None, {}, True, "", advice="read first")
    assert line(v).splitlines()[-1].strip() == "advice: read first"
