"""The quiz: guess first, then see. Judged against what the kernel did (the verdict's observed
outcome), the guess locked before the step is sent, the app's prediction hidden until then."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time

import pytest
from test_tui import idle, until

from tuiexplore import quiz
from tuiexplore.quiz import Question, Quiz
from tuiexplore.room import Room
from tuiexplore.scenarios import lessons
from tuiexplore.scenarios.scenario import builtin_names, load
from tuiexplore.timeline import VerdictEvent
from tuiexplore.tui.app import make_app
from tuiexplore.tui.driver import Next
from tuiexplore.tui.quiz import QuestionDialog, QuizLine, QuizSummary
from tuiexplore.tui.widgets import KernelView

Q = Question(14, "client", "close(sock)")


def verdict(fd: str, predicted: str, observed: str, branch: str = "fin") -> VerdictEvent:
    return VerdictEvent(1.0, 20, "client", fd, "close", predicted, observed, branch, None, {}, predicted == observed)


def test_judged_by_what_the_kernel_did_not_by_the_prediction():
    q = Quiz()
    q.lock(Q, "RST")
    g = q.grade([verdict("sock", predicted="FIN", observed="RST")])
    assert g.right and q.score() == "quiz: 1 of 1 right"
    assert "the kernel sent RST: right" in g.line() and "the app predicted FIN" in g.line()
    q.lock(Question(15, "client", "close(sock)"), "FIN")
    g = q.grade([verdict("sock", predicted="FIN", observed="RST")])
    assert not g.right and q.score() == "quiz: 1 of 2 right"


def test_a_step_closing_several_sockets_is_its_strongest_outcome_and_no_verdict_is_not_scored():
    q = Quiz()
    q.lock(Question(9, "server", "exit()"), "RST")
    g = q.grade([verdict("listener", "none", "none", "listen_stop"), verdict("conn", "RST", "RST", "data_was_unread")])
    assert g.observed == "RST" and g.right and "listener: listen_stop" in g.branches() and "conn: data_was_unread" in g.branches()
    q.lock(Question(10, "client", "close(sock)"), "FIN")
    g = q.grade([])
    assert not g.scored and q.asked == 1 and "not scored" in g.line()


def test_answers_queue_in_order_and_are_due_once_their_step_ran():
    q = Quiz()
    q.lock(Question(10, "client", "close(sock)"), "FIN")
    q.lock(Question(12, "server", "close(conn)"), "RST")
    assert q.answered(12) and not q.due(9) and q.due(10)
    assert q.grade([verdict("sock", "FIN", "FIN")]).question.index == 10
    assert not q.due(11) and q.due(12)
    with pytest.raises(ValueError):
        q.lock(Q, "ACK")


def test_progress_round_trip_and_a_damaged_file_is_no_progress(tmp_path):
    path = tmp_path / "state" / "quiz.json"
    q = Quiz()
    q.lock(Q, "RST")
    q.grade([verdict("sock", "RST", "RST")])
    quiz.save_progress("seed-rst", q, path)
    assert quiz.load_progress(path) == {"seed-rst": (1, 1)}
    path.write_text('{"done": {"seed-rst": "x"}}')
    assert quiz.load_progress(path) == {}
    path.write_text("not json")
    assert quiz.load_progress(path) == {}


def test_every_builtin_is_a_lesson_with_something_to_guess_and_no_intro_gives_its_title():
    assert sorted(lessons.names()) == builtin_names() and lessons.names()[0] == "seed-rst"
    for name, intro in lessons.LESSONS:
        scn = load(name)
        assert any(quiz.asks(s) for s in scn.steps), name
        assert intro not in scn.title and lessons.lesson(name).title.endswith(intro)


def screen_text(app) -> str:
    """Every character on the screen, as the terminal would show it (from the SVG screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(" ".join(re.findall(r">([^<]*)</text>", svg))).replace("\xa0", " ")


async def up_to_the_close(app, pilot) -> None:
    await until(pilot, lambda: app.explorer.info is not None)
    for _ in range(13):
        await pilot.press("n")
    await until(pilot, lambda: app.explorer.cursor == 13 and idle(app) and "client" in app.explorer.models)
    await pilot.pause(0.2)


def play_seed_rst(answer_key: str) -> dict:
    """seed-rst with the quiz on, answered with ``answer_key``; what was seen along the way."""
    seen: dict = {}

    async def body():
        app = make_app(load("seed-rst"), room=Room(quiz=True))
        async with app.run_test(size=(160, 48)) as pilot:
            await up_to_the_close(app, pilot)
            submitted = []
            submit = app.driver.submit
            app.driver.submit = lambda req: (submitted.append((req, list(app.explorer.quiz.quiz.locked))), submit(req))[1]
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, QuestionDialog))
            await pilot.pause(0.2)
            seen["asked"] = screen_text(app)
            seen["kernel_predicted"] = list(app.explorer.query_one(KernelView).predicted)
            seen["sent_before_answer"] = list(submitted)
            await pilot.press(answer_key)
            await until(pilot, lambda: app.explorer.quiz.quiz.graded and idle(app))
            seen["sent"] = submitted
            seen["line"] = app.explorer.query_one(QuizLine)
            seen["line_text"] = str(seen["line"].render())
            seen["graded"] = app.explorer.quiz.quiz.graded[0]
            await pilot.press("n")  # the last step: the summary
            await until(pilot, lambda: isinstance(app.screen, QuizSummary))
            seen["summary"] = app.screen.body

    asyncio.run(body())
    return seen


def test_quiz_seed_rst_answered_right():
    seen = play_seed_rst("r")
    # Asked before the step: nothing of the app's prediction on screen, the close not sent.
    assert "close(sock)" in seen["asked"] and "What will the kernel put on the wire?" in seen["asked"]
    assert "next: client close(sock): n asks what the kernel will put on the wire" in seen["asked"]
    assert "predicted" not in seen["asked"], seen["asked"][seen["asked"].find("predicted") - 200 :][:400]
    assert seen["kernel_predicted"] == [] and seen["sent_before_answer"] == []
    # The answer was locked when the step was sent.
    (req, locked), *_ = seen["sent"]
    assert isinstance(req, Next) and [(q.index, guess) for q, guess in locked] == [(14, "RST")]
    g = seen["graded"]
    assert (g.guess, g.observed, g.right) == ("RST", "RST", True)
    assert g.verdicts[0].branch == "data_was_unread"
    assert seen["line_text"].startswith("quiz: 1 of 1 right") and seen["line"].has_class("-right")
    assert "✓ step 14: client close(sock): you said RST, the kernel sent RST: right" in seen["summary"]
    assert "sock: data_was_unread" in seen["summary"]


def test_quiz_seed_rst_answered_wrong():
    seen = play_seed_rst("f")
    g = seen["graded"]
    assert (g.guess, g.observed, g.right) == ("FIN", "RST", False)
    assert seen["line_text"].startswith("quiz: 0 of 1 right") and seen["line"].has_class("-wrong")
    assert "✗ step 14: client close(sock): you said FIN, the kernel sent RST: wrong" in seen["summary"]


def test_without_the_quiz_the_prediction_is_on_screen_before_the_close():
    """The control for the hidden prediction: the same screen text shows it when not quizzing."""

    async def body():
        app = make_app(load("seed-rst"))
        async with app.run_test(size=(160, 48)) as pilot:
            await up_to_the_close(app, pilot)
            return screen_text(app), list(app.explorer.query_one(KernelView).predicted)

    text, predicted = asyncio.run(body())
    assert "predicted RST" in text and "data_was_unread" in predicted


def test_quiz_command_lists_and_resumes(tmp_path):
    from tests.conftest import cli

    env = {"XDG_STATE_HOME": str(tmp_path)}
    q = Quiz()
    q.lock(Q, "RST")
    q.grade([verdict("sock", "RST", "RST")])
    quiz.save_progress("seed-rst", q, tmp_path / "tuiexplore" / "quiz.json")
    import os

    r = cli("quiz", "--list", env={**os.environ, **env})
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert re.match(r"\s*1\. seed-rst\s+1/1 right", lines[0]) and re.match(r"\s*2\. read-then-close\s+- ", lines[1])
    assert json.loads((tmp_path / "tuiexplore" / "quiz.json").read_text())["done"] == {"seed-rst": [1, 1]}


def test_keys_pressed_faster_than_the_lab_still_stop_at_the_question():
    """n pressed 14 times while the lab lags behind: each step's result sets the screen's cursor
    back to where the lab is while later steps are still queued, yet the 14th press (the close)
    must ask, not be sent."""

    async def body():
        app = make_app(load("seed-rst"), room=Room(quiz=True))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None and idle(app))
            do = app.driver._do
            app.driver._do = lambda req: (time.sleep(0.25), do(req))[1]  # a slow lab (a guest kernel's pace)
            behind = []
            for _ in range(14):
                await pilot.press("n")
                await pilot.pause(0.1)
                behind.append(app.explorer.cursor)
            await until(pilot, lambda: isinstance(app.screen, QuestionDialog) and idle(app), timeout=60)
            await pilot.pause(0.5)
            return behind, app.explorer.cursor, [e for e in app.explorer.events if isinstance(e, VerdictEvent)]

    behind, cursor, verdicts = asyncio.run(body())
    assert any(b < i + 1 for i, b in enumerate(behind[:-1]))  # the screen's cursor did lag: the case is real
    assert (cursor, verdicts) == (13, [])


def test_a_lesson_done_is_saved_and_enter_plays_the_next(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))

    async def body():
        room = Room(quiz=True, lessons=("seed-rst", "read-then-close"))
        app = make_app(lessons.lesson("seed-rst"), room=room)
        async with app.run_test(size=(160, 48)) as pilot:
            await up_to_the_close(app, pilot)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, QuestionDialog))
            await pilot.press("r")
            await until(pilot, lambda: app.explorer.quiz.quiz.graded and idle(app))
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, QuizSummary))
            summary = app.screen.body
            await pilot.press("enter")
            await until(pilot, lambda: app.explorer.scenario.name == "read-then-close" and idle(app))
            return summary, app.explorer.scenario.title, app.explorer.quiz.quiz.score()

    summary, title, score = asyncio.run(body())
    assert "Next lesson: The server writes one byte; the client reads it, then closes." in summary
    assert title.startswith("lesson 2/") and score == "quiz: no answer yet"
    assert quiz.load_progress() == {"seed-rst": (1, 1)}
