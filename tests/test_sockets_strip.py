"""The sockets strip redraws only when it must: new values in the same cells are written into
them (the rows stay, a rebuilt table renders every cell again); a new shape is drawn anew."""

import asyncio

from textual.app import App, ComposeResult

from tuiexplore.domain import ActorInventory, SocketRow
from tuiexplore.tui.widgets import SocketsStrip


class StripApp(App):
    def compose(self) -> ComposeResult:
        yield SocketsStrip()


def inventory(inq: int, state: str = "ESTABLISHED", extra: bool = False) -> dict[str, ActorInventory]:
    socks = [SocketRow("conn", 4, state, inq=inq)] + ([SocketRow("ls", 3, "LISTEN", backlog=16)] if extra else [])
    return {"server": ActorInventory(1001, socks), "client": ActorInventory(1002, [SocketRow("c", 3, state)])}


def cells(strip: SocketsStrip) -> list[list[str]]:
    return [[str(c) for c in strip.get_row_at(r)] for r in range(strip.row_count)]


def test_new_values_in_the_same_cells_keep_the_rows_and_show_as_drawn_anew():
    async def run():
        app = StripApp()
        async with app.run_test(size=(160, 10)) as pilot:
            strip = app.query_one(SocketsStrip)
            names = {1001: "te-server", 1002: "te-client"}
            strip.show(inventory(1), names)
            await pilot.pause()
            keys = list(strip.rows)
            strip.show(inventory(2), names)  # Recv-Q 1 -> 2: same widths
            await pilot.pause()
            assert list(strip.rows) == keys, "written into the rows there"
            got = cells(strip)
            strip.rows_shown = []
            strip.show(inventory(2), names)  # the same, from nothing: a full draw
            await pilot.pause()
            assert got == cells(strip) and got[0][5] == "2"
            keys = list(strip.rows)
            strip.show(inventory(2, "CLOSE_WAIT"), names)  # a state of another width: the columns change
            await pilot.pause()
            assert list(strip.rows) != keys and cells(strip)[0][4] == "CLOSE_WAIT"
            strip.show(inventory(2, "CLOSE_WAIT", extra=True), names)  # a socket more
            await pilot.pause()
            assert strip.row_count == 3 and cells(strip)[1][3] == "ls (3)"

    asyncio.run(run())
