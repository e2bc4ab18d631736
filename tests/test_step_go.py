"""`g` on the seed's own two programs, the first key a newcomer presses (issue 23): the others
run on while one program waits at its closing call, so the client's close() is predicted from
what the server really did (its 1-byte write), and the verdict line says what it waits for."""

from __future__ import annotations

import asyncio

from tests.test_step_tui import head, make_app, packets, press_until, until, verdict_text


def test_g_first_runs_the_server_on_to_its_write_and_the_client_close_is_predicted_rst(seed):
    programs = [("server", [str(seed / "server"), "9999", "--once"]), ("client", [str(seed / "client"), "9999"])]

    async def body():
        app = make_app(programs, lab=True)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: head(app, "server") is not None, what="the server to park")
            await pilot.press("g")
            await until(pilot, lambda: head(app, "client") == "close", what="the client at close()")
            # the server is not held before its write: the parked close is predicted anew from the byte
            await until(pilot, lambda: "predicted RST [data_was_unread]" in verdict_text(app), what="RST", timeout=20)
            assert head(app, "server") is None  # it ran on: it writes, sleeps 1 s, and writes again while the client stays
            while app.stepper_screen.selected != "client":
                await pilot.press("tab")
            await pilot.press("n")
            await until(pilot, lambda: "→ RST" in verdict_text(app), what="the verdict")
            # The server writes a byte each time it wakes (it sleeps 1 s after each): every byte it
            # sent before the client's RST is unread, 1 when the keys come fast, more when not.
            rows = packets(app)
            rst = next(i for i, (_, _, flags, _) in enumerate(rows) if "R" in flags)
            sent = sum(n for _, _, _, n in rows[:rst])
            assert sent >= 1
            unread = "1 byte the peer sent was" if sent == 1 else f"{sent} bytes the peer sent were"
            assert f"→ {unread} never read: read until read() returns 0 (EOF)" in verdict_text(app)

    asyncio.run(body())


def test_a_parked_close_says_which_other_program_may_change_its_prediction(seed):
    programs = [("server", [str(seed / "server"), "9999", "--once"]), ("client", [str(seed / "client"), "9999"])]

    async def body():
        app = make_app(programs, lab=True)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = app.stepper_screen
            await press_until(pilot, app, "server", "epoll_wait")  # listening: the client starts
            await pilot.press("n")  # blocks until the client connects, then parks again
            await pilot.press("tab")  # the client
            await until(pilot, lambda: screen.selected == "client" and head(app, "client") is not None)
            await pilot.press("N")  # the client alone to its close(): the server stays parked
            await until(pilot, lambda: head(app, "server") is not None, what="the server to park again")
            await until(pilot, lambda: head(app, "client") == "close", what="the client at close()")
            text = verdict_text(app)
            assert "predicted FIN [fin]" in text
            assert "meanwhile server is parked before " in text and "can change this prediction (tab, n runs it)" in text

    asyncio.run(body())
