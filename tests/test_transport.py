"""Lab needs nothing from its agent but a Transport: a fake one, answering in-process, carries
a step's events and its Done reply, and a dead link is one clear LabError."""

import queue

import pytest

from tuiexplore.domain import LabInfo, StepDone
from tuiexplore.lab import protocol
from tuiexplore.lab.client import Lab, LabError
from tuiexplore.lab.codec import encode
from tuiexplore.lab.transport import Transport
from tuiexplore.timeline import StepEvent, to_wire

INFO = LabInfo("6.18.0", "6.18.0-test", 4000, "root", True)


class FakeLink(Transport):
    def __init__(self, opts):
        self.opts, self.sent, self.out, self.up = opts, [], queue.Queue(), True
        self.pid = 7
        self.out.put(encode(protocol.Ready(INFO)).encode() + b"\n")

    def send_line(self, line):
        if not self.up:
            raise BrokenPipeError
        cmd = protocol.decode_command(line)
        self.sent.append(cmd)
        if isinstance(cmd, protocol.StepCmd):
            event = StepEvent(0.5, cmd.step, cmd.actor, cmd.call, cmd.args, 3, None, {"fd": "s"})
            done = protocol.Done(StepDone(cmd.step, True, 1.0, 0.0))
            self.out.put((to_wire(event) + "\n" + encode(done) + "\n").encode())  # one read, two lines

    def read(self):
        return self.out.get()

    def alive(self):
        return self.up

    def last_words(self):
        return "gone for a test"

    def stop(self, quit_line):
        self.sent.append(protocol.decode_command(quit_line))
        self.out.put(b"")


def test_a_lab_over_any_transport():
    links, batches = [], []

    def make(opts):
        links.append(FakeLink(opts))
        return links[-1]

    with Lab(on_batch=batches.append, transport=make) as lab:
        assert lab.start(["client"], unread_rule="skb_len") == INFO
        assert links[0].opts == protocol.LabOptions(["client"], None, False, "skb_len")
        assert lab.step(1, "client", "socket", {"as": "s"}) == StepDone(1, True, 1.0, 0.0)
        assert [type(e) for b in batches for e in b] == [StepEvent]  # seen before the step's Done
        links[0].up = False
        with pytest.raises(LabError, match=r"stopped unexpectedly \(gone for a test\)"):
            lab.step(2, "client", "close", {"fd": "s"})
    assert isinstance(links[0].sent[-1], protocol.QuitCmd)
