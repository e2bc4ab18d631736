"""Comparing two runs: aligned by what each step does, first divergence on the wire."""

from conftest import cli

from tuiexplore.reports.compare import align, first_divergence, text
from tuiexplore.timeline import PacketEvent, StepEvent


def step(n, actor, call, **args):
    return StepEvent(float(n), n, actor, call, args, 0, None, {})


def packet(n, src, dst, flags):
    return PacketEvent(float(n) + 0.5, src, dst, 1, 2, flags, 0, 0, 0, 64, n)


def test_a_step_only_one_side_has_is_a_gap_not_a_shift():
    common = [step(1, "c", "socket", **{"as": "s"}), step(2, "c", "connect", fd="s", port=1), packet(2, "c", "s", "S")]
    left = [*common, step(3, "c", "close", fd="s"), packet(3, "c", "s", "R.")]
    right = [*common, step(3, "c", "read", fd="s"), step(4, "c", "close", fd="s"), packet(4, "c", "s", "F.")]
    rows = align(left, right)
    assert [(r.left.step and r.left.step.call, r.right.step and r.right.step.call) for r in rows] == [
        ("socket", "socket"),
        ("connect", "connect"),
        (None, "read"),
        ("close", "close"),
    ]
    assert first_divergence(rows) == 3  # the read has no packets; the close's R. vs F. is the divergence
    assert any(line.startswith(">>") and "c R." in line and "c F." in line for line in text(rows, ("a", "b")))


def test_compare_seed_rst_with_read_then_close():
    proc = cli("compare", "seed-rst", "read-then-close", "--text")
    assert proc.returncode == 0, proc.stderr
    marked = [line for line in proc.stdout.splitlines() if line.startswith(">>")]
    assert any("close(sock)" in line for line in marked)
    assert any("client R." in line and "client F." in line for line in marked)
    assert any("RST [data_was_unread]" in line and "FIN [fin]" in line for line in marked)
    plus = [line for line in proc.stdout.splitlines() if line.startswith("+")]
    assert len(plus) == 1 and "read(sock)" in plus[0]
