"""TCP Fast Open client scripts run: a cookie request, then SYNs carrying the cached cookie and
the data (sendto(MSG_FASTOPEN), TCP_FASTOPEN_CONNECT), over IPv4 and IPv6, as root and not."""

from __future__ import annotations

import re

import pytest
from test_pkt_run import AS, DATA, SLOW, UNPRIVILEGED, events, lines, pkt


@pytest.mark.parametrize("who", AS)
@pytest.mark.parametrize("family", ["4", "6"])
def test_a_fast_open_client_script_runs_and_its_syns_carry_the_cookie_and_data(who: str, family: str) -> None:
    script = DATA / "tfo_client.pkt"
    r = pkt(str(script), "--json", UNPRIVILEGED if who == "nobody" else SLOW, *(["-6"] if family == "6" else []), who=who)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    evs = events(r.stdout)
    assert all(e["ok"] is not False for e in lines(evs).values())
    syns = [e for e in evs if e["type"] == "packet" and e["from"] == "local" and e["flags"] == "S"]
    # The kernel's own SYNs: a cookie request (an FO option with no cookie), then the cookie with data.
    assert [(s["len"], s["options"].split(",")[-3:]) for s in syns] == [
        (0, ["FO", "nop", "nop"]),
        (1000, ["FO abcd1234", "nop", "nop"]),
        (500, ["FO abcd1234", "nop", "nop"]),
    ]
    closes = [e for e in evs if e["type"] == "verdict" and e["call"] == "close"]
    assert [(v["observed"], v["branch"], v["agree"]) for v in closes] == [("FIN", "fin", True)] * 3


def test_a_failing_line_cites_no_branch_of_an_earlier_segment(tmp_path) -> None:
    """The SYN-ACK to a SYN_SENT socket gets no prediction: a failure after it names no branch
    (the last judged one, the previous connection's FIN, has nothing to do with it)."""
    wrong = tmp_path / "wrong.pkt"
    wrong.write_text((DATA / "tfo_client.pkt").read_text().replace("+0 > P. 1:501(500) ack 1", "+0 > . 1:1(0) ack 1"))
    r = pkt(str(wrong), SLOW)
    assert r.returncode == 1
    (message,) = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{wrong}:")]
    assert re.search(r"got P\. 1:501\(500\) ack 1 win \d+ \(flags \. vs P\.; payload length 0 vs 500\)$", message), message
