"""Guess first, then see: the quiz's questions, answers and score, with no UI in them.

Before a scenario step whose closing logic the kernel runs (close, shutdown, exit, a
disconnecting connect: the steps that get a verdict), the person in front of the screen says
what the kernel will put on the wire: FIN, RST or nothing; before the scripted peer injects an RST
or a FIN (the relay's wire), what the kernel will send back (nothing, an ACK, a challenge ACK, an
RST: the challenge told by the kernel's own TCPChallengeACK counter) and the state the socket is
then in, both from lab/receipt.py's verdict; such a guess is "REPLY|STATE".
The guess is locked before the step is sent; it is then judged against what the kernel did (the
verdict's *observed* outcome, read from the wire), never against the app's prediction, which is
only shown beside it afterwards.

A step that closes several sockets (an exit) is one question: what the step puts on the wire,
the strongest of its sockets' outcomes (RST over FIN over nothing).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tuiexplore.lab.calls import RECEIVED, is_closing
from tuiexplore.lab.predict import BRANCHES
from tuiexplore.lab.receipt import state_said
from tuiexplore.reports.transcript import call_text
from tuiexplore.scenarios.scenario import Step
from tuiexplore.timeline import VerdictEvent

# (outcome as the verdict says it, the word on the screen, its key)
CHOICES = (("FIN", "FIN", "f"), ("RST", "RST", "r"), ("none", "nothing", "x"))
RECEIPT_CHOICES = (("none", "nothing", "x"), ("ACK", "ACK", "a"), ("challenge", "challenge ACK", "c"), ("RST", "RST", "r"))
STATE_CHOICES = (
    ("ESTABLISHED", "ESTABLISHED", "e"),
    ("CLOSE_WAIT", "CLOSE_WAIT", "w"),
    ("CLOSING", "CLOSING", "g"),
    ("TIME_WAIT", "TIME_WAIT", "t"),
    ("CLOSE", "CLOSE", "d"),  # reset, or gone from the kernel's tables
)
WORDS = {outcome: word for outcome, word, _ in (*CHOICES, *RECEIPT_CHOICES)}
STATE_WORDS = {state: word for state, word, _ in STATE_CHOICES}
_STRENGTH = {"none": 0, "ACK": 1, "challenge": 1, "FIN": 1, "RST": 2}
CHALLENGES = ("rcv_rst_challenge", "rcv_syn_challenge")


def receives(step: Step) -> bool:
    """The scripted peer injects an RST or a FIN: the kernel decides on receipt."""
    return step.call == "inject" and any(c in str(step.args.get("flags", "")) for c in "RF")


def asks(step: Step) -> bool:
    """Whether the quiz asks before this step: the kernel's closing logic runs, or it receives an
    RST or a FIN; a verdict follows."""
    return is_closing(step.call, step.args) or receives(step)


def answer_of(v: VerdictEvent, predicted: bool = False) -> str:
    """A verdict's outcome as the quiz's answers say it: a received segment's ACK is a challenge
    ACK when the kernel counted one (observed) or the branch is one (predicted)."""
    out = v.predicted if predicted else v.observed
    if v.call not in RECEIVED:
        return out
    challenge = v.branch in CHALLENGES if predicted else v.counters.get("TcpExt.TCPChallengeACK", 0) > 0
    if out == "ACK" and challenge:
        return "challenge"
    return "ACK" if out == "SYN-ACK" else out


def say(answer: str) -> str:
    """An answer in words: "RST", or a receipt's "challenge ACK, then ESTABLISHED"."""
    reply, _, state = answer.partition("|")
    word = WORDS.get(reply, reply)
    return f"{word}, then {STATE_WORDS.get(state, state)}" if state else word


def strongest(outcomes: list[str]) -> str:
    return max(outcomes, key=lambda o: _STRENGTH.get(o, 0))


@dataclass(frozen=True)
class Question:
    index: int  # the scenario step, 1-based
    actor: str
    call: str  # as the transcript writes it: close(sock)
    receipt: bool = False  # a segment the peer injects: what the kernel sends back

    @classmethod
    def of(cls, step: Step) -> Question:
        return cls(step.index, step.actor, call_text(step.call, step.args), receives(step))

    @property
    def choices(self) -> tuple[tuple[str, str, str], ...]:
        return RECEIPT_CHOICES if self.receipt else CHOICES

    @property
    def states(self) -> tuple[tuple[str, str, str], ...]:
        """The second half of a receipt question: the state the socket is then in."""
        return STATE_CHOICES if self.receipt else ()

    @property
    def text(self) -> str:
        return f"step {self.index}: {self.actor} {self.call}"


@dataclass(frozen=True)
class Graded:
    question: Question
    guess: str  # "FIN" | "RST" | "none"; a receipt's "REPLY|STATE"
    verdicts: tuple[VerdictEvent, ...]  # what the kernel did, one per socket the step closed

    @property
    def observed(self) -> str:
        if not self.verdicts:
            return ""
        if self.question.receipt:  # one socket receives the segment: its reply and its state
            v = self.verdicts[0]
            return f"{answer_of(v)}|{state_said(v.explanation)}"
        return strongest([answer_of(v) for v in self.verdicts])

    @property
    def predicted(self) -> str:
        if self.question.receipt:  # the state predicted is said in the verdict only when it differed
            return self.observed if all(v.agree for v in self.verdicts) else "otherwise"
        return strongest([answer_of(v, predicted=True) for v in self.verdicts]) if self.verdicts else ""

    @property
    def scored(self) -> bool:
        """A step that got no verdict (it did not run, or closed no socket) is not scored."""
        return bool(self.verdicts)

    @property
    def right(self) -> bool:
        return self.scored and self.guess == self.observed

    def branches(self) -> str:
        return "; ".join(f"{v.fd}: {v.branch} ({BRANCHES.get(v.branch, v.branch)})" for v in self.verdicts)

    def line(self) -> str:
        """The question and its answer in one line, with the branch that decided it."""
        if not self.scored:
            return f"{self.question.text}: you said {say(self.guess)}; no verdict (the step did not close a socket): not scored"
        mark = "right" if self.right else "wrong"
        app = "the app predicted it too" if self.predicted == self.observed else f"the app predicted {say(self.predicted)}"
        return (
            f"{self.question.text}: you said {say(self.guess)}, the kernel sent {say(self.observed)}: {mark}"
            f" · branch {self.branches()} · {app}"
        )


@dataclass
class Quiz:
    """One scenario's questions: those locked and waiting for their steps, and those graded."""

    graded: list[Graded] = field(default_factory=list)
    # Asked and answered, their steps sent but not judged yet, oldest first (steps queue up).
    locked: list[tuple[Question, str]] = field(default_factory=list)

    def answered(self, index: int) -> bool:
        """Asked already (a step replayed by ``b`` is not asked again)."""
        return any(q.index == index for q in [*(g.question for g in self.graded), *(q for q, _ in self.locked)])

    def lock(self, question: Question, guess: str) -> None:
        reply, _, state = guess.partition("|")
        states = [st for st, _, _ in question.states]
        if reply not in [outcome for outcome, _, _ in question.choices] or (state not in states if states else state):
            raise ValueError(f"not an answer: {guess}")
        self.locked.append((question, guess))

    def due(self, cursor: int) -> bool:
        """Whether the oldest locked question's step has run, now that the scenario is at ``cursor``."""
        return bool(self.locked) and cursor >= self.locked[0][0].index

    def grade(self, verdicts: list[VerdictEvent]) -> Graded:
        """The oldest locked question, judged by the verdicts of the step it was asked before."""
        question, guess = self.locked.pop(0)
        graded = Graded(question, guess, tuple(verdicts))
        self.graded.append(graded)
        return graded

    @property
    def right(self) -> int:
        return sum(g.right for g in self.graded)

    @property
    def asked(self) -> int:
        return sum(g.scored for g in self.graded)

    def score(self) -> str:
        return f"quiz: {self.right} of {self.asked} right" if self.asked else "quiz: no answer yet"

    def summary(self) -> list[str]:
        if not self.graded:
            return ["No question was asked: this scenario has no closing step left to guess."]
        return [f"{self.score()}", "", *(f"{'✓' if g.right else '✗' if g.scored else '·'} {g.line()}" for g in self.graded)]


# -- a lesson sequence's progress (``tuiexplore quiz``), kept between runs --------------------
def progress_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "tuiexplore" / "quiz.json"


def load_progress(path: Path | None = None) -> dict[str, tuple[int, int]]:
    """Lesson name -> (right, asked) of each lesson finished. A missing or unreadable file is no
    progress: the quiz starts at the first lesson."""
    try:
        data = json.loads((path or progress_path()).read_text(encoding="utf-8"))
        return {str(k): (int(v[0]), int(v[1])) for k, v in data.get("done", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError, IndexError, KeyError):
        return {}


def save_progress(name: str, quiz: Quiz, path: Path | None = None) -> None:
    """One lesson finished; written whole (a temporary file renamed) so a crash keeps the old one."""
    path = path or progress_path()
    done = load_progress(path)
    done[name] = (quiz.right, quiz.asked)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "done": {k: list(v) for k, v in done.items()}}, indent=1), encoding="utf-8")
    tmp.replace(path)
