"""The kernel panel for a received segment: the function that decides (tcp_validate_incoming(),
tcp_timewait_state_process(), tcp_v4_rcv()...) in place of tcp_close, with the predicted branch
marked before the step and the taken one after it; back to tcp_close for a closing call."""

import asyncio

from test_tui import idle, until

from tuiexplore.kernel import receipt_source
from tuiexplore.lab.receipt_branches import RECEIPT_BRANCHES
from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import make_app
from tuiexplore.tui.kernel_view import KernelView, title


def test_every_receipt_branch_is_found_by_its_code_in_the_bundled_source():
    assert set(receipt_source.RECEIPT_PATTERNS) == set(RECEIPT_BRANCHES)
    for branch, (fn, _) in receipt_source.RECEIPT_PATTERNS.items():
        ex = receipt_source.bundled(fn)
        assert ex.function == fn and ex.lines[0].lstrip().startswith(("static", "void", "int", "enum", "struct", fn)), fn
        assert ex.branches.get(branch), (branch, fn)
    ex = receipt_source.bundled("tcp_validate_incoming")
    [challenge] = [n for n in ex.branches["rcv_rst_challenge"][-1:]]
    assert "tcp_send_challenge_ack(sk)" in ex.lines[challenge - ex.first_line]
    assert title(ex) == "Kernel: tcp_validate_incoming() · Linux 6.12.118 (bundled)"


def test_a_tree_of_the_running_kernel_is_read_before_the_bundle(tmp_path):
    src = (receipt_source.bundled("tcp_fin"), receipt_source.bundled("tcp_reset"))
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    text = "/* a tree */\n" + "\n".join(src[1].lines) + "\n\n" + "\n".join(src[0].lines) + "\n"
    (tmp_path / "net" / "ipv4" / "tcp_input.c").write_text(text)
    ex = receipt_source.excerpt("tcp_fin", kernel_src=str(tmp_path), env={})
    assert ex.origin.startswith(f"tree {tmp_path}") and ex.first_line == len(src[1].lines) + 3
    assert [ex.lines[n - ex.first_line].strip() for n in ex.branches["rcv_fin"]][0] == "tcp_set_state(sk, TCP_CLOSE_WAIT);"
    assert receipt_source.excerpt("tcp_v4_rcv", kernel_src=str(tmp_path), env={}).origin.startswith("bundled")


def test_the_panel_shows_the_function_that_decides_on_receipt():
    async def body():
        app = make_app(load("rst-in-window"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(8):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 8 and idle(app))
            await pilot.pause(0.3)
            kernel = app.screen.query_one(KernelView)
            # Before the inject: its prediction, in tcp_validate_incoming()
            assert kernel.excerpt.function == "tcp_validate_incoming" and "rcv_rst_challenge" in kernel.predicted
            assert "tcp_send_challenge_ack(sk);" in [
                kernel.excerpt.lines[n - kernel.excerpt.first_line].strip() for n in kernel.lines_of(kernel.predicted)
            ]
            await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 9 and app.explorer.last_verdict is not None and idle(app))
            await pilot.pause(0.3)
            v = app.explorer.last_verdict
            assert (v.call, v.branch, v.agree) == ("inject", "rcv_rst_challenge", True)
            assert "rcv_rst_challenge" in kernel.taken and kernel.excerpt.function == "tcp_validate_incoming"
            for _ in range(4):  # the exact RST, the read, up to the close's verdict
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 13 and idle(app))
            await pilot.pause(0.3)
            assert app.explorer.last_verdict.branch == "already_closed"
            assert kernel.excerpt.function == "tcp_close" and kernel.excerpt is kernel.base

    asyncio.run(body())
