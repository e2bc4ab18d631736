"""Column widths sized to the room (tui/fit_columns.py): natural when they fit, else the widest
wrapping column gives up width first, never below its floor."""

from rich.console import Console
from rich.text import Text

from tuiexplore.tui.fit_columns import fit, longest_word, row_height

NATURAL = {"#": 1, "ended": 56, "client": 15, "process": 28, "duration": 8}


def test_natural_widths_when_they_fit():
    assert fit(NATURAL, {"ended": 9, "process": 13}, room=200, padding=2) == NATURAL


def test_the_widest_wrapping_column_gives_first_then_they_share():
    room = sum(NATURAL.values()) + 2 * len(NATURAL)
    assert fit(NATURAL, {"ended": 9, "process": 13}, room - 20, 2)["ended"] == 36  # 56 - 20: still the widest
    both = fit(NATURAL, {"ended": 9, "process": 13}, room - 40, 2)
    assert (both["ended"], both["process"]) == (22, 22) and both["client"] == 15


def test_never_below_a_floor_then_the_table_scrolls():
    widths = fit(NATURAL, {"ended": 30}, room=10, padding=2)
    assert widths == {**NATURAL, "ended": 30}


def test_a_wrapped_row_is_as_tall_as_its_tallest_cell():
    console = Console(width=200)
    cells = [Text("2"), Text("RST by client: unread data, or SO_LINGER 0 after reading")]
    assert longest_word(cells) == len("SO_LINGER")
    assert row_height(console, cells, [1, 56]) == 1
    assert row_height(console, cells, [1, 30]) == 2
