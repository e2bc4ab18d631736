"""Any Actor plugs into the agent (the interface the ptrace and guest actors implement): a fake
one, answering from a script, gets each outcome through ``StepRunner.perform`` without a lab."""

import json
import time

from tuiexplore.domain import BLOCKED, FAILED, REFUSED, RETURNED
from tuiexplore.lab.actors import Actor, ActorGone, FromActor
from tuiexplore.lab.agent import Agent
from tuiexplore.lab.protocol import Blocked, Failed, LabOptions, Returned
from tuiexplore.lab.steps import StepRunner


class ScriptActor(Actor):
    """Answers each request with the next reply maker from ``script``."""

    script: list = []

    def __init__(self, name, post):
        super().__init__(name, pid=4242)
        self.post, self.sent = post, []

    def send(self, req):
        self.sent.append(req)
        now = time.time()
        answer = self.script.pop(0)(req, now) if self.script else None
        if answer == "gone":
            self.post(ActorGone(self.name))
        elif answer is not None:
            self.post(FromActor(self.name, answer))

    def reap(self, timeout):
        self.alive = False

    def kill(self):
        self.alive = False


def perform(capsys, *script, call="read", args=None):
    ScriptActor.script = list(script)
    agent = Agent(LabOptions(), factory=ScriptActor)
    # No lab: no evidence and no predictions, which perform() does not use.
    runner = StepRunner(agent.out, agent.inbox, agent.actors, None, agent.who, predict=None)
    a = agent.actors.get("prog")
    outcome, message, _ = runner.perform(1, a, call, args or {"fd": "s"})
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return runner, a, outcome, message, steps[-1]


def test_returned(capsys):
    _, a, outcome, _, step = perform(capsys, lambda r, t: Returned(r.id, 3, None, {"bytes": 3}, t, t))
    assert (outcome, step["ret"], step["errno"]) == (RETURNED, 3, None)
    assert a.sent[0].call == "read" and a.sent[0].args == {"fd": "s"}


def test_blocked_then_refused_then_exit_goes_through(capsys):
    runner, a, outcome, _, step = perform(capsys, lambda r, t: Blocked(r.id, t))
    assert outcome == BLOCKED and step["result"] == {"blocked": True} and a.blocked.step == 1
    outcome, message, _ = runner.perform(2, a, "close", {"fd": "s"})
    assert outcome == REFUSED and message == "prog is still blocked in read() from step 1; this step was not sent"
    assert len(a.sent) == 1  # never sent
    ScriptActor.script = [lambda r, t: Returned(r.id, 0, None, {}, t, t)]
    assert runner.perform(3, a, "exit", {})[0] == RETURNED and not a.alive


def test_failed_in_the_actor_and_an_actor_that_is_gone(capsys):
    _, _, outcome, message, step = perform(capsys, lambda r, t: Failed(r.id, "read() could not be performed: boom", t, t))
    assert outcome == FAILED and step["result"]["failed"] is True and "boom" in message
    _, a, outcome, message, _ = perform(capsys, lambda r, t: "gone")
    assert outcome == FAILED and "gone" in message and not a.alive


def test_silence_is_taken_as_blocked(capsys, monkeypatch):
    monkeypatch.setattr("tuiexplore.lab.inbox.ANSWER_S", 0.0)
    monkeypatch.setattr("tuiexplore.lab.steps.DEFAULT_BLOCK_S", 0.05)
    _, a, outcome, _, _ = perform(capsys, lambda r, t: None)
    assert outcome == BLOCKED and a.blocked is not None
