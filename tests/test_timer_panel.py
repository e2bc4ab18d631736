"""The kernel panel for a timer: after a ``wait`` step the function that decided what the timer
did (tcp_keepalive_timer(), tcp_write_timeout(), tcp_retransmit_timer(), tw_timer_handler()) in
place of tcp_close, its branch lines marked, read from the kernel's own tree when one is given,
else from the bundled 6.12 excerpt, which says so."""

import asyncio
import dataclasses
from pathlib import Path

import pytest
from pilot_wait import until
from test_tui import idle

from tuiexplore.kernel import receipt_source, timer_source
from tuiexplore.lab.timerpath import TIMER_BRANCHES
from tuiexplore.scenarios.scenario import load
from tuiexplore.tui.app import make_app
from tuiexplore.tui.kernel_view import KernelView, title

# Each branch's deciding condition and what the kernel then does, as the bundled 6.12 source has them.
DECIDES = {
    "retransmit": ["if (tcp_write_timeout(sk))", "tcp_retransmit_skb(sk, tcp_rtx_queue_head(sk), 1)", "icsk_backoff++"],
    "write_timeout": ["expired = retransmits_timed_out(sk, retry_until,", "if (expired) {", "tcp_write_err(sk);"],
    "zero_window_probe": ["if (icsk->icsk_probes_out >= max_probes) {", "tcp_send_probe0(sk);"],
    "keepalive_busy": ["if (tp->packets_out || !tcp_write_queue_empty(sk))", "goto resched;"],
    "keepalive_probe": ["if (elapsed >= keepalive_time_when(tp)) {", "tcp_write_wakeup(sk, LINUX_MIB_TCPKEEPALIVE)"],
    "keepalive_abort": ["icsk->icsk_probes_out >= keepalive_probes(tp))) {", "tcp_send_active_reset(sk,", "tcp_write_err(sk);"],
    "orphan_fin_wait2_timewait": [
        "if (sk->sk_state == TCP_FIN_WAIT2 && sock_flag(sk, SOCK_DEAD)) {",
        "if (tmo > 0) {",
        "tcp_time_wait(sk, TCP_FIN_WAIT2, tmo);",
    ],
    "orphan_fin_wait2_reset": [
        "if (sk->sk_state == TCP_FIN_WAIT2 && sock_flag(sk, SOCK_DEAD)) {",
        "tcp_send_active_reset(sk, SK_RST_REASON_TCP_STATE);",
        "tcp_done(sk);",
    ],
    "timewait_end": ["inet_twsk_kill(tw);"],
}


def _marked(ex, branch: str) -> list[str]:
    return [ex.lines[n - ex.first_line].strip() for n in ex.branches.get(branch, [])]


def test_every_timer_branch_is_found_by_its_code_in_the_bundled_source():
    assert set(timer_source.TIMER_PATTERNS) == set(TIMER_BRANCHES) == set(DECIDES)
    for branch, (fn, patterns) in timer_source.TIMER_PATTERNS.items():
        ex = receipt_source.bundled(fn)
        assert ex.function == fn and ex.origin.startswith("bundled: Linux 6.12.118 as packaged by Debian"), fn
        assert fn in ex.lines[0] and ex.lines[-1] == "}", fn  # the whole function, from its definition
        lines = _marked(ex, branch)
        assert len(lines) == len(patterns), (branch, lines)  # every pattern found: none shrank the branch
        for code in DECIDES[branch]:
            assert any(code in line for line in lines), (branch, code, lines)
    ex = receipt_source.bundled("tcp_keepalive_timer")
    assert ex.origin.endswith(f"net/ipv4/tcp_timer.c {ex.first_line}-{ex.last_line}, GPL-2.0") and ex.hint
    assert title(ex) == "Kernel: tcp_keepalive_timer() · Linux 6.12.118 (bundled)"
    assert receipt_source.bundled("tw_timer_handler").origin.split(", ")[-2].startswith("net/ipv4/inet_timewait_sock.c")


def test_a_given_tree_is_read_for_the_timers_and_only_it(tmp_path):
    src = receipt_source.bundled("tcp_keepalive_timer")
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / "net" / "ipv4" / "tcp_timer.c").write_text("/* a tree */\n\n" + "\n".join(src.lines) + "\n")
    ex = receipt_source.excerpt("tcp_keepalive_timer", kernel_src=str(tmp_path), env={})
    assert ex.origin == f"tree {tmp_path} (--kernel-src): net/ipv4/tcp_timer.c 3-{2 + len(src.lines)}" and not ex.hint
    assert _marked(ex, "keepalive_abort") == _marked(src, "keepalive_abort")
    assert ex.branches["keepalive_abort"] == [n - src.first_line + 3 for n in src.branches["keepalive_abort"]]
    # The tree has no inet_timewait_sock.c: the bundled excerpt, not some other tree's
    other = tmp_path / "other"
    (other / "net" / "ipv4").mkdir(parents=True)
    (other / "net" / "ipv4" / "inet_timewait_sock.c").write_text("void tw_timer_handler(struct timer_list *t)\n{\n}\n")
    env = {"TUIEXPLORE_KERNEL_SRC": str(other)}
    assert receipt_source.excerpt("tw_timer_handler", kernel_src=str(tmp_path), env=env).origin.startswith("bundled")
    assert receipt_source.excerpt("tw_timer_handler", env=env).origin.startswith(f"tree {other}")


# scenario, the steps before its wait, the wait's key (n: the scenario's wait step; f: the
# explorer's own wait, which lost-fin has not), the branch the timer takes and its function
WAITS = [
    ("keepalive-abort", 10, "n", "keepalive_abort", "tcp_keepalive_timer"),
    ("user-timeout-abort", 12, "n", "write_timeout", "tcp_write_timeout"),
    ("fin-wait2-timeout", 7, "n", "timewait_end", "tw_timer_handler"),
    ("lost-fin", 8, "f", "retransmit", "tcp_retransmit_timer"),
]


@pytest.mark.parametrize(("name", "before", "key", "branch", "function"), WAITS, ids=[w[0] for w in WAITS])
def test_the_panel_shows_the_timer_function_after_a_wait(name, before, key, branch, function):
    async def body():
        scn = load(name)
        # The scenario ends with its wait: a next closing call's prediction would take the panel
        # back to tcp_close (fin-wait2-timeout's server close), as after any verdict.
        steps = scn.steps[: before + (key == "n")]
        if name == "lost-fin":  # four FINs dropped, not two: a retransmission is pending for ~3 s, not 0.2 s
            steps = [dataclasses.replace(s, args={**s.args, "count": 4}) if s.call == "drop" else s for s in steps]
        app = make_app(dataclasses.replace(scn, steps=steps))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            # The keys are queued: the wait runs right after the step before it, as in a scenario.
            for _ in range(before):
                await pilot.press("n")
            await pilot.press(key)
            await until(
                pilot,
                lambda: (v := app.explorer.last_verdict) is not None and v.call == "wait" and idle(app),
                60,
                "the wait's verdict",
            )
            await pilot.pause(0.3)
            # The step may be an earlier wait's: the explorer's own pace between steps is real
            # time too (user-timeout-abort's TCP_USER_TIMEOUT can run out at its third wait).
            v = app.explorer.last_verdict
            assert (v.call, v.branch, v.agree) == ("wait", branch, True)
            kernel = app.screen.query_one(KernelView)
            assert kernel.excerpt.function == function and kernel.taken == [branch]
            hot = [kernel.excerpt.lines[n - kernel.excerpt.first_line].strip() for n in sorted(kernel.lines_of(kernel.taken))]
            assert all(any(code in line for line in hot) for code in DECIDES[branch]), hot
            notes = str(kernel._notes.render())
            assert "source: bundled: Linux 6.12.118 as packaged by Debian" in notes and "not your kernel's own source" in notes
            assert f"{function}() · Linux 6.12.118 (bundled)" in str(kernel.border_title)

    asyncio.run(body())


def test_the_timers_lines_stay_marked_until_the_next_step_runs():
    """The whole fin-wait2-timeout: after its wait, the next step (the server's close) is
    predicted, but the panel keeps tw_timer_handler() and what the timer did, and says the
    prediction after it, until that close runs; then tcp_close with the close's own branch."""

    async def body():
        app = make_app(load("fin-wait2-timeout"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(8):  # up to and with the wait, queued as in the scenario
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 8 and idle(app), 60, "the wait done")
            await pilot.pause(0.5)  # a later redraw (a resize, the source found) keeps them too
            v = app.explorer.last_verdict
            assert (v.step, v.call, v.branch, v.agree) == (8, "wait", "timewait_end", True)
            kernel = app.screen.query_one(KernelView)
            assert kernel.excerpt.function == "tw_timer_handler" and kernel.taken == ["timewait_end"]
            assert kernel.predicted == [] and kernel.lines_of(kernel.taken)
            nxt = kernel.expected
            assert nxt is not None and nxt[1].endswith("predicted (FIN)")
            assert str(kernel.border_subtitle) == f"step 8: timewait_end (none) · {nxt[1]}"
            await pilot.press("n")  # the server's close: its FIN meets no socket
            await until(pilot, lambda: app.explorer.last_verdict.step == 9 and idle(app), 30, "the close's verdict")
            await pilot.pause(0.3)
            v = app.explorer.last_verdict
            assert kernel.excerpt is kernel.base and kernel.taken == list(v.path) and kernel.expected is None
            assert str(kernel.border_subtitle) == f"step 9: {v.branch} ({v.observed})"

    asyncio.run(body())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot_of_the_keepalive_timer_on_the_panel(snap_compare, size):
    """keepalive-abort up to its third wait (recorded with runner.run and timeline.to_wire): the
    kernel panel shows tcp_keepalive_timer() from the bundled 6.12 excerpt, the abort's lines
    marked; at 80x24 on the kernel tab."""
    from tui_fakes import INFO, recorded

    from tuiexplore.tui.replay import replay_factory

    events = recorded(Path(__file__).parent / "data" / "keepalive-abort-events.jsonl")
    scn = load("keepalive-abort")
    replayed = replay_factory(dataclasses.replace(INFO, wire="relay"), events)
    app = make_app(dataclasses.replace(scn, steps=scn.steps[:11]), driver_factory=replayed)

    async def shown(pilot):
        if size == (80, 24):
            await pilot.press("3")
        await until(pilot, lambda: pilot.app.screen.query(KernelView), 10, "the kernel panel")
        kernel = pilot.app.screen.query_one(KernelView)
        # Wrapped at its width, laid out again, then scrolled to the decisive line: a few frames.
        marked = lambda: kernel.excerpt.function == "tcp_keepalive_timer" and kernel._wrapped_at and kernel.scroll_y > 0  # noqa: E731
        await until(pilot, marked, 10, "the keepalive timer marked")
        pilot.app.clear_notifications()  # the lab sysctls' toast would cover the verdict line
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=shown)


def test_the_verdict_dialog_and_the_export_show_the_timers_lines():
    """keepalive-abort's recorded timeline: the verdict dialog (v) and the export's transcript give
    the abort's lines in tcp_keepalive_timer(), not tcp_close's (where a timer branch has none)."""
    from tui_fakes import INFO, recorded

    from tuiexplore.kernel.excerpt import bundled
    from tuiexplore.reports.details import verdict_text
    from tuiexplore.reports.export import markdown
    from tuiexplore.timeline import VerdictEvent

    events = recorded(Path(__file__).parent / "data" / "keepalive-abort-events.jsonl")
    [abort] = [e for e in events if isinstance(e, VerdictEvent) and e.branch == "keepalive_abort"]
    timer = receipt_source.bundled("tcp_keepalive_timer")
    want = [f"{n}: {timer.lines[n - timer.first_line].strip()}" for n in timer.branches["keepalive_abort"]]
    _, text = verdict_text(abort, events, bundled())
    assert f"Source ({timer.origin}):\n" + "\n".join(f"  {w}" for w in want) in text
    md = markdown(load("keepalive-abort"), dataclasses.replace(INFO, wire="relay"), events, bundled())
    section = md.split("### Step 11:")[1].split("###")[0]
    where = f"tcp\\_timer.c {timer.first_line}-{timer.last_line}"  # the origin, Markdown-escaped
    assert "Branch `keepalive_abort` in bundled: Linux 6.12.118" in section and where in section
    assert all(w in section for w in want)
