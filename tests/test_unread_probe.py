"""The copied_seq probe (tuiexplore/unread_probe.py): the running kernel's unread-data rule on
close(), decided by the tcp_close_no_rst exchange through the relay when its own source is not
at hand, cached per release; the version decides nothing below 6.18."""

import dataclasses

import pytest

from tuiexplore import unread_probe
from tuiexplore.kernel.excerpt import bundled
from tuiexplore.timeline import VerdictEvent


def close_verdict(observed: str) -> list[VerdictEvent]:
    return [VerdictEvent(0.0, 11, "server", "conn", "close", "FIN", observed, "fin", None, {}, observed == "FIN")]


def refuse() -> list[VerdictEvent]:
    raise AssertionError("probed again: the cache was not used")


def test_the_real_kernel_is_probed_once_then_the_cache_answers(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert unread_probe.probe("probe-test-1", env) == "copied_seq"  # this machine's kernel (6.18): FIN
    assert unread_probe.probe("probe-test-1", env, run=refuse) == "copied_seq"
    assert [p.name for p in (tmp_path / "tuiexplore").iterdir()] == ["unread-rule-v1-probe-test-1.json"]


@pytest.mark.parametrize(
    "run,rule",
    [
        (lambda: close_verdict("RST"), "skb_len"),
        (lambda: close_verdict("FIN"), "copied_seq"),
        (lambda: [], None),  # the probe ran but said nothing: not cached, not guessed
        (lambda: (_ for _ in ()).throw(RuntimeError("cannot make the veth pair")), None),
    ],
)
def test_what_close_sent_decides_the_rule(tmp_path, run, rule):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert unread_probe.probe("probe-test-2", env, run=run) == rule
    assert ((tmp_path / "tuiexplore" / "unread-rule-v1-probe-test-2.json").exists()) == (rule is not None)


def test_a_damaged_or_foreign_cache_is_probed_again(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    path = tmp_path / "tuiexplore" / "unread-rule-v1-probe-test-3.json"
    path.parent.mkdir()
    for text in (
        "{",
        '{"format": 1, "release": "other", "rule": "skb_len"}',
        '{"format": 1, "release": "probe-test-3", "rule": "x"}',
    ):
        path.write_text(text)
        assert unread_probe.probe("probe-test-3", env, run=lambda: close_verdict("RST")) == "skb_len"


def test_the_source_first_then_the_probe_below_6_18_and_the_version_from_6_18(monkeypatch):
    asked = []
    monkeypatch.setattr(unread_probe, "probe", lambda release: asked.append(release) or "skb_len")
    ex = bundled()  # 6.12.117, with the backported copied_seq test
    assert unread_probe.unread_rule(ex, "6.12.117") == "copied_seq" and asked == []  # its own source says
    assert unread_probe.unread_rule(ex, "6.1.170") == "skb_len" and asked == ["6.1.170"]  # not its source: probed
    assert unread_probe.unread_rule(dataclasses.replace(ex, version=""), "6.18.44") is None and asked == ["6.1.170"]
