"""The quiz before a segment the scripted peer injects (issue 25 on the relay's wire): what will
the kernel send back (nothing, an ACK, a challenge ACK, an RST), locked before the inject is
sent, judged on what the kernel did (the challenge told by its TCPChallengeACK counter), with the
branch; the app's prediction is not on screen before the answer."""

import asyncio

import pytest
from test_quiz import screen_text
from test_tui import idle, until

from tuiexplore import quiz
from tuiexplore.quiz import Question, Quiz
from tuiexplore.room import Room
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import VerdictEvent
from tuiexplore.tui.app import make_app
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.quiz import QuestionDialog, QuizSummary


def receipt_verdict(observed: str, branch: str, counters: dict) -> VerdictEvent:
    text = f"inject -> {observed}, ESTABLISHED: as the kernel does"  # lab/receipt.py's said()
    return VerdictEvent(1.0, 9, "server", "conn", "inject", observed, observed, branch, None, counters, True, text)


def test_a_received_segment_is_asked_with_its_own_answers_and_a_challenge_is_the_kernels_count():
    steps = load("rst-in-window").steps
    assert [s.index for s in steps if quiz.asks(s)] == [9, 11, 13]
    q9 = Question.of(steps[8])
    assert q9.receipt and [o for o, _, _ in q9.choices] == ["none", "ACK", "challenge", "RST"]
    assert [st for st, _, _ in q9.states] == ["ESTABLISHED", "CLOSE_WAIT", "CLOSING", "TIME_WAIT", "CLOSE"]
    q = Quiz()
    q.lock(q9, "challenge|ESTABLISHED")
    g = q.grade([receipt_verdict("ACK", "rcv_rst_challenge", {"TcpExt.TCPChallengeACK": 1})])
    assert g.right and g.observed == g.predicted == "challenge|ESTABLISHED" and "rcv_rst_challenge" in g.line()
    assert "you said challenge ACK, then ESTABLISHED" in g.line()
    q.lock(Question(11, "client", "inject(flags='R')", True), "ACK|CLOSE")
    g = q.grade([receipt_verdict("ACK", "rcv_out_of_window", {})])  # a plain duplicate ACK: the reply right, not the state
    assert not g.right and g.observed == "ACK|ESTABLISHED"
    for wrong in ("ACK", "FIN|ESTABLISHED", "ACK|LISTEN"):
        with pytest.raises(ValueError):
            q.lock(q9, wrong)
    assert not quiz.asks(steps[9])  # expect: the peer checks, the kernel decides nothing new


def test_quiz_rst_in_window_on_the_relay():
    seen: dict = {}

    async def body():
        app = make_app(load("rst-in-window"), room=Room(quiz=True))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(8):
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 8 and idle(app))
            await pilot.pause(0.2)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, QuestionDialog))
            await pilot.pause(0.2)
            seen["asked"] = screen_text(app)
            seen["kernel_predicted"] = list(app.explorer.query_one(KernelView).predicted)
            seen["cursor_at_question"] = app.explorer.cursor
            await pilot.press("f")  # not an answer to a received segment: nothing happens
            await pilot.pause(0.1)
            seen["still_asking"] = isinstance(app.screen, QuestionDialog)
            await pilot.press("c")  # a challenge ACK...
            await pilot.pause(0.1)
            seen["half"] = isinstance(app.screen, QuestionDialog) and app.explorer.cursor == 8  # not locked yet
            await pilot.press("e")  # ... and still ESTABLISHED: right
            await until(pilot, lambda: len(app.explorer.quiz.quiz.graded) == 1 and idle(app))
            await pilot.press("n")  # step 10, the expect: no question
            await until(pilot, lambda: app.explorer.cursor == 10 and idle(app))
            await pilot.press("n")  # step 11, the exact RST
            await until(pilot, lambda: isinstance(app.screen, QuestionDialog))
            await pilot.press("d")  # CLOSE (right) ...
            await pilot.press("a")  # ... with an ACK: wrong, the socket is reset and says nothing
            await until(pilot, lambda: len(app.explorer.quiz.quiz.graded) == 2 and idle(app))
            await pilot.press("n")  # the read
            await until(pilot, lambda: app.explorer.cursor == 12 and idle(app))
            await pilot.press("n")  # the close
            await until(pilot, lambda: isinstance(app.screen, QuestionDialog))
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, QuizSummary))
            seen["summary"] = app.screen.body

    asyncio.run(body())
    asked = seen["asked"]
    assert "The segment arrives: what will the kernel send back?" in asked and "challenge ACK (c)" in asked
    assert "inject(flags='R', seq=4)" in asked and "predicted" not in asked and "rcv_rst" not in asked
    assert seen["kernel_predicted"] == [] and seen["cursor_at_question"] == 8 and seen["still_asking"] and seen["half"]
    assert "And which state is the receiving socket in then?" in asked and "t TIME_WAIT" in asked and "d CLOSE" in asked
    summary = seen["summary"]
    assert "quiz: 2 of 3 right" in summary
    said = "you said challenge ACK, then ESTABLISHED, the kernel sent challenge ACK, then ESTABLISHED: right"
    assert f"✓ step 9: client inject(flags='R', seq=4): {said}" in summary
    assert "conn: rcv_rst_challenge" in summary
    assert "✗ step 11: client inject(flags='R'): you said ACK, then CLOSE, the kernel sent nothing, then CLOSE: wrong" in summary
    assert "conn: rcv_rst_exact" in summary and "✓ step 13" in summary
