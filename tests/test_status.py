"""The status line at 80 columns keeps the step counter and the next step."""

from tuiexplore.tui.status import fit

PARTS = [
    "seed-rst: Client closes with unread data: RST instead of FIN",
    "step 13/15 next: client close(sock)",
    "kernel 6.18.44 · root · tracepoints on · port 40000",
    "server loop ON",
]


def test_fits_80_columns_with_step_and_next():
    line = fit(PARTS, 78)
    assert len(line) <= 78
    assert "step 13/15 next: client close(sock)" in line and line.startswith("seed-rst:")
    assert "server loop ON" in line and "kernel" not in line  # the lab details give way first


def test_wide_keeps_everything():
    assert fit(PARTS, 200) == " · ".join(PARTS)


def test_very_narrow_keeps_the_counter():
    line = fit(PARTS, 40)
    assert len(line) <= 40 and line.startswith("seed-rst · step 13/15 next:")


def test_a_long_problem_is_cut_not_dropped():
    parts = [*PARTS[:3], "⚠ finding tcp.c failed: SourceError: " + "no tcp.c under /nonexistent/tree " * 4]
    line = fit(parts, 80)
    assert len(line) == 80 and line.endswith("…")
    assert "step 13/15 next: client close(sock) · ⚠ finding tcp.c" in line and "kernel" not in line
