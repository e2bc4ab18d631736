"""The Stepper as the explorer will drive it: manual mode, run() on a worker thread, step(tid)
from another thread for each stop, typed events out. A real C client against a real peer."""

from __future__ import annotations

import socket
import threading
import time

from tests.conftest import build_c
from tuiexplore.timeline import PacketEvent, VerdictEvent
from tuiexplore.trace.events import StopEvent
from tuiexplore.trace.stepper import Stepper


def test_manual_stepping_from_another_thread(tmp_path):
    exe = build_c("client_modes.c", tmp_path / "client_modes")
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    got: list = []
    stops: list[StopEvent] = []
    stopped = threading.Condition()

    def on_event(ev) -> None:
        got.append(ev)
        if isinstance(ev, StopEvent):
            with stopped:
                stops.append(ev)
                stopped.notify()

    stepper = Stepper([("client", [str(exe), str(port), "clean"])], on_event, auto=False)
    stepper.start()
    worker = threading.Thread(target=stepper.run)
    worker.start()
    seen, deadline = 0, time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:
        with stopped:
            stopped.wait_for(lambda n=seen: len(stops) > n, timeout=0.1)
        if len(stops) > seen:
            stop = stops[seen]
            seen += 1
            if stop.call == "connect":
                time.sleep(0.2)  # parked: no SYN may leave before the key
                assert not any(isinstance(e, PacketEvent) for e in got), "nothing sent before the key"
            stepper.step(stop.tid)
    if worker.is_alive():
        stepper.request_detach()
    worker.join(10)
    assert [s.call for s in stops] == ["socket", "connect", "close"]
    assert stops[2].prediction[0]["outcome"] == "FIN"
    [v] = [e for e in got if isinstance(e, VerdictEvent)]
    assert v.agree and v.observed == "FIN"
    conn, _ = ls.accept()
    assert conn.recv(10) == b""
    conn.close()
    ls.close()


def test_a_closing_calls_verdict_waits_for_the_frames_queued_when_it_returned():
    """The verdict waits until the capture has read every frame lo had carried when the call
    returned (a starved sniffer thread may lag)."""
    from types import SimpleNamespace

    from tuiexplore.trace.closecalls import ClosingCalls, _Closing
    from tuiexplore.trace.events import Parked

    class LaggingMatcher:
        frames: list = []
        conns: set = set()
        read = 0  # frames the sniffer has handed on
        capture = True  # a capture runs: the verdict is judged from its frames

        def mark(self):
            return 3  # the kernel had queued three frames for the capture at the return

        def caught_up(self, mark):
            return self.read >= mark

    emitted = []
    host = SimpleNamespace(matcher=LaggingMatcher(), lab=False, changes=0, emit=emitted.append, rel=lambda ts=None: 1.0)
    host.drain_frames = lambda: None
    host.verdict_ready = lambda mark: host.matcher.caught_up(mark)  # Stepper.verdict_ready, no timer due
    calls = ClosingCalls(host, auto=False)
    parked = Parked(0.0, "client", 42, 42, "close", {"fd": 3}, ())
    calls.current = _Closing(1, parked, resumed_at=time.time())
    calls.returned(42)
    calls.tick(time.time() + 1.0, quiet=True)
    assert calls.current is not None  # quiet, returned, but two of its frames are still unread
    host.matcher.read = 3
    calls.tick(time.time() + 1.0, quiet=True)
    assert calls.current is None  # judged
