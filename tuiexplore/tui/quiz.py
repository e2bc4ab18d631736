"""The quiz on the explorer's screen: the question asked before a closing step, the score line,
the end summary, and the palette's entries. What is asked and how it is judged is
``tuiexplore.quiz``; this module only asks, shows and moves on to the next lesson.

:class:`QuizKeeper` is owned by the explorer screen (as autoplay is): the screen asks it before
sending a scenario step (``holds``) and tells it each step's result (``step_finished``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuiexplore import quiz
from tuiexplore.quiz import CHOICES, RECEIPT_CHOICES, STATE_CHOICES, Question, Quiz
from tuiexplore.reports.transcript import call_text
from tuiexplore.scenarios import lessons
from tuiexplore.scenarios.scenario import Scenario, Step
from tuiexplore.timeline import Event, VerdictEvent
from tuiexplore.tui.commands import Entries
from tuiexplore.tui.messages import StepFinished
from tuiexplore.tui.screens import TextScreen
from tuiexplore.tui.widgets import VerdictLine, printable

WORDS_CLOSE = [outcome for outcome, _, _ in CHOICES]
TIP = "Look first: the Sockets panel (Recv-Q, Send-Q, SO_LINGER) and the states say what the kernel will do."


class QuestionDialog(ModalScreen[str | None]):
    """One question; the answer (``quiz.CHOICES``' outcome; for a received segment, the reply
    and the state, "REPLY|STATE") or None (Esc: the step is not run)."""

    BINDINGS = [
        *[Binding(key, f"answer('{outcome}')", word, id=f"quiz.{outcome}") for outcome, word, key in CHOICES],
        *[Binding(key, f"answer('{o}')", word, id=f"quiz.{o}") for o, word, key in RECEIPT_CHOICES if o not in WORDS_CLOSE],
        *[Binding(key, f"state('{state}')", word, id=f"quiz.state.{state}") for state, word, key in STATE_CHOICES],
        Binding("escape", "answer('')", "Not now", id="quiz.cancel"),
    ]
    DEFAULT_CSS = """
    QuestionDialog { align: center middle; }
    QuestionDialog > Vertical {
        width: 72; max-width: 95%; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    QuestionDialog Horizontal { height: auto; align: center middle; }
    QuestionDialog Button { margin: 0 1; min-width: 12; }
    QuestionDialog .muted { color: $text-muted; }
    QuestionDialog #states Button { margin: 0 0 0 1; min-width: 0; }
    """

    def __init__(self, question: Question, score: str) -> None:
        super().__init__()
        self.question, self.score = question, score
        self.reply = self.state = ""  # a receipt question's two halves, as they are chosen

    def compose(self) -> ComposeResult:
        q = self.question
        with Vertical() as v:
            v.border_title = Content(f"Guess first · {printable(self.score)}")
            yield Static(Content(printable(f"Next, {q.text}")), id="question", markup=False)
            ask = "The segment arrives: what will the kernel send back?" if q.receipt else None
            yield Static(ask or "What will the kernel put on the wire?", markup=False)
            with Horizontal():
                for outcome, word, key in q.choices:
                    yield Button(f"{word} ({key})", id=f"answer-{outcome}", name=outcome)
            if q.states:
                yield Static("And which state is the receiving socket in then?", markup=False)
                with Horizontal(id="states"):
                    for state, word, key in q.states:
                        # "e ESTABLISHED": five states fit the dialog at 80 columns
                        yield Button(f"{key} {word}", id=f"state-{state}", name=f"|{state}", compact=True)
            yield Static(TIP, classes="muted", markup=False)
            yield Static("Your answer is locked before the step runs · Esc: not now (the step does not run)", classes="muted")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only this question's answers (a received segment's are not a close's)."""
        if action == "state":
            return bool(self.question.states)
        offered = [o for o, _, _ in self.question.choices]
        return action != "answer" or not parameters[0] or parameters[0] in offered

    def action_answer(self, outcome: str) -> None:
        if not outcome or not self.question.states:
            self.dismiss(outcome or None)
            return
        self.reply = outcome
        self._chosen()

    def action_state(self, state: str) -> None:
        self.state = state
        self._chosen()

    def _chosen(self) -> None:
        """A receipt answer is locked once both halves are chosen; the half chosen is shown."""
        for button in self.query(Button):
            button.variant = "primary" if button.name in (self.reply, f"|{self.state}") else "default"
        if self.reply and self.state:
            self.dismiss(f"{self.reply}|{self.state}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        name = event.button.name or ""
        if name.startswith("|"):
            self.action_state(name[1:])
        else:
            self.action_answer(name)


class QuizLine(Static):
    """The score and the last answer, under the verdict line while the quiz is on."""

    DEFAULT_CSS = """
    QuizLine { height: auto; max-height: 2; padding: 0 1; background: $boost; display: none; }
    QuizLine.-on { display: block; }
    QuizLine.-right { color: $success; }
    QuizLine.-wrong { color: $error; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)

    def show(self, on: bool, text: str, right: bool | None = None) -> None:
        self.set_class(on, "-on")
        self.set_class(right is True, "-right")
        self.set_class(right is False, "-wrong")
        self.update(Content(printable(text)))


class QuizScreen(Protocol):
    """What the keeper needs of the explorer screen."""

    scenario: Scenario
    cursor: int
    events: list[Event]

    @property
    def app(self) -> App[Any]: ...

    def action_next(self) -> None: ...
    def notify(self, message: str, *, severity: Any = ..., timeout: float | None = ..., markup: bool = ...) -> None: ...
    def query_one(self, selector: type[Any]) -> Any: ...
    async def load_scenario(self, scn: Scenario) -> None: ...


class QuizHost(Protocol):
    """The screen the palette's quiz entries act on (the explorer, which owns a keeper)."""

    quiz: QuizKeeper


class QuizKeeper:
    def __init__(self, screen: QuizScreen, on: bool, lesson_names: tuple[str, ...] = ()) -> None:
        self.screen, self.on = screen, on
        self.lessons = list(lesson_names)  # ``tuiexplore quiz``: the one played now, then the rest
        self.quiz = Quiz()
        self.summarized = False
        # The scenario step (0-based) the next Next request will run. The screen's own cursor is
        # set back to the lab's at each step's result, while more Next requests may be queued.
        self.next_index = 0

    def reset(self) -> None:
        """A fresh start of the scenario (r, another scenario): the questions again, a new score."""
        self.quiz, self.summarized = Quiz(), False
        self.show()

    def restarted(self) -> None:
        """A fresh lab: the scenario starts at its first step again (the score is kept: b, autoplay)."""
        self.next_index = 0

    def toggle(self) -> None:
        self.on = not self.on
        self.show()
        self.screen.notify(
            "quiz on: before each closing step, guess what the kernel puts on the wire" if self.on else "quiz off", timeout=5
        )

    def show(self, text: str = "", right: bool | None = None) -> None:
        score = self.quiz.score()
        self.screen.query_one(QuizLine).show(self.on, f"{score} · {text}" if text else score, right)

    def hides(self, nxt: Step, on_verdict_line: bool) -> bool:
        """Instead of the app's prediction for the next step (its kernel panel mark, its verdict
        line): while quizzing, only that a guess comes first."""
        if not self.on:
            return False
        if on_verdict_line:
            line = f"next: {nxt.actor} {call_text(nxt.call, nxt.args)}: n asks what the kernel will put on the wire"
            self.screen.query_one(VerdictLine).show_text(line)
        return True

    def holds(self) -> bool:
        """Before the scenario's next step is sent: True if it must be guessed first (the question
        is opened; the step is sent once the answer is locked); False: it is sent now."""
        s = self.screen
        index = max(s.cursor, self.next_index)
        step = s.scenario.steps[index] if index < len(s.scenario.steps) else None
        if step is None or not self.on or not quiz.asks(step) or self.quiz.answered(step.index):
            self.next_index = index + 1
            return False
        question = Question.of(step)

        def answered(guess: str | None) -> None:
            if guess is None:
                s.notify("not answered: the step was not run (n asks again)", timeout=4)
                return
            self.quiz.lock(question, guess)  # locked first: only then is the step sent
            self.show(f"{question.text}: you said {quiz.say(guess)}; the kernel decides…")
            s.action_next()

        s.app.push_screen(QuestionDialog(question, self.quiz.score()), answered)
        return True

    def step_finished(self, m: StepFinished) -> None:
        """A step's result: the locked question it answers is judged, and at the scenario's end
        the summary is shown (and a lesson's score saved)."""
        s = self.screen
        if m.done is not None and self.quiz.due(m.cursor):
            verdicts = [e for e in s.events if isinstance(e, VerdictEvent) and e.step == m.done.step]
            graded = self.quiz.grade(verdicts)
            self.show(graded.line(), graded.right if graded.scored else None)
            if graded.scored:
                word = quiz.say(graded.observed)
                s.notify(f"{'right' if graded.right else 'wrong'}: the kernel sent {word}", timeout=5)
        if self.on and m.cursor >= len(s.scenario.steps) and not self.quiz.locked and not self.summarized:
            self.summarized = True
            self.summarize()

    def summarize(self) -> None:
        body = self.quiz.summary()
        nxt: str | None = None
        if self.lessons and self.screen.scenario.name == self.lessons[0]:  # not another one opened with o
            quiz.save_progress(self.lessons[0], self.quiz)
            rest = self.lessons[1:]
            nxt = dict(lessons.LESSONS)[rest[0]] if rest else None
            last = "That was the last lesson (tuiexplore quiz --list: every score)."
            body += ["", f"Next lesson: {nxt}  (Enter)" if nxt else last]
        title = f"Quiz: {self.screen.scenario.name} · {self.quiz.score()}"
        self.screen.app.push_screen(QuizSummary(title, "\n".join(body), nxt is not None), self.chosen)

    async def chosen(self, go_on: object) -> None:
        if go_on is True and len(self.lessons) > 1:  # Enter is only offered when there is a next lesson
            self.lessons.pop(0)
            self.reset()
            await self.screen.load_scenario(lessons.lesson(self.lessons[0]))

    def answers(self) -> None:
        """The answers so far (g, the palette)."""
        self.screen.app.push_screen(TextScreen(f"Quiz: {self.screen.scenario.name}", "\n".join(self.quiz.summary())))


class QuizSummary(TextScreen):
    """The end of a scenario: each question with the branch that decided it; Enter plays the next lesson."""

    BINDINGS = [Binding("enter", "next", "Next lesson", id="quiz.next")]

    def __init__(self, title: str, text: str, has_next: bool) -> None:
        super().__init__(title, text)
        self.has_next = has_next

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.has_next if action == "next" else True

    def action_next(self) -> None:
        self.dismiss(True)


class QuizCommands(Entries):
    """The palette's quiz entries."""

    def entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        keeper: QuizKeeper = cast(QuizHost, self.screen).quiz  # the explorer: the only screen with this provider
        toggle = "Quiz: stop guessing" if keeper.on else "Quiz: guess first (FIN, RST or nothing before each closing step)"
        out = [(toggle, "the kernel's answer is shown after yours, with the branch that decided it", keeper.toggle)]
        if keeper.quiz.graded:
            out.append(("Quiz: the answers so far", keeper.quiz.score(), keeper.answers))
        return out
