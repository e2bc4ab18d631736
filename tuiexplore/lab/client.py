"""The lab as the UI and the CLI see it: start an agent (through a ``Transport``), send it the
commands of ``lab/protocol.py``, receive events and replies.

The calling process never changes namespace. Events arrive on a reader thread and are handed to
``on_event`` (the TUI posts them as batched messages; the CLI collects them). Every method that
waits has a deadline: a wedged agent is reported, never waited on forever.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tuiexplore.domain import ActorInventory, LabInfo, PredictionView, StepDone
from tuiexplore.lab import protocol as proto
from tuiexplore.lab.codec import encode
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.lab.transport import AgentProcess, Transport
from tuiexplore.timeline import Event, from_wire

__all__ = ["Lab", "LabError", "LabInfo", "StepDone"]


class LabError(RuntimeError):
    """The lab could not start or stopped answering; the message is for the user."""


class Lab:
    def __init__(
        self,
        on_event: Callable[[Event], None] | None = None,
        on_batch: Callable[[list[Event]], None] | None = None,
        transport: Callable[[proto.LabOptions], Transport] = AgentProcess,
        on_dead: Callable[[str], None] | None = None,
    ) -> None:
        """``on_event`` gets events one by one; ``on_batch`` gets every event that arrived in one
        read from the agent's pipe, in order (what a UI wants: one message per batch)."""
        self.on_event = on_event
        self.on_batch = on_batch
        self.on_dead = on_dead  # the agent went away without being asked to: called at once, with why
        self.info: LabInfo | None = None
        self._transport = transport
        self._link: Transport | None = None
        self._replies: dict[Any, proto.Reply] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._dead = False

    # -- life cycle --------------------------------------------------------------------------
    def start(
        self,
        actors: list[str] | None = None,
        port: int | None = None,
        tracer: bool = True,
        timeout: float = 15.0,
        unread_rule: str | None = None,
        wire: str = "loopback",
        sysctls: Mapping[str, int | str] | None = None,
        rules: ReceiveRules = UNKNOWN,
    ) -> LabInfo:
        options = proto.LabOptions(actors or [], port, not tracer, unread_rule, wire, dict(sysctls or {}), rules)
        link = self._link = self._transport(options)
        threading.Thread(target=self._read, args=(link,), name="lab-reader", daemon=True).start()
        self.info = dataclasses.replace(self._wait("ready", timeout).info, where=link.where)
        return self.info

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.stop(encode(proto.QuitCmd()))

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._link.pid if self._link else None

    # -- requests: one method per command of lab/protocol.py ---------------------------------
    def step(self, n: int, actor: str, call: str, args: dict[str, Any], timeout: float = 60.0) -> StepDone:
        self._send(proto.StepCmd(n, actor, call, args))
        # A wait may take its bound and the timer wheel's slack (lab/timerwait.py) before settling.
        return self._wait(("done", n), timeout + 1.2 * args.get("max_ms", 0) / 1000).done

    def predict(self, actor: str, call: str, args: dict[str, Any]) -> list[PredictionView]:
        return self._ask(proto.PredictCmd(self._id(), actor, call, args)).predictions

    def inspect(self) -> dict[str, ActorInventory]:
        return self._ask(proto.InspectCmd(self._id())).actors

    def pcap(self) -> bytes:
        """The capture so far as a classic pcap: the agent sends the bytes, this process writes
        them (reports/pcapng.py's write() says what each file holds)."""
        reply = self._ask(proto.PcapCmd(self._id()))
        if reply.error:
            raise LabError(f"cannot write the pcap: {reply.error}")
        return base64.b64decode(reply.data)

    def set_rules(self, unread_rule: str | None, rules: ReceiveRules) -> None:
        """How the running kernel judges unread data ("copied_seq"/"skb_len") and its receive
        rules (a bare FIN into a zero window, refused ACK numbers), from its own source or a probe."""
        self._ask(proto.ConfigCmd(self._id(), unread_rule, rules))

    def stats(self) -> proto.Stats:
        return self._ask(proto.StatsCmd(self._id()))

    def ensure_alive(self) -> None:
        """Raise the lab's death before a step is announced, not after."""
        if self._dead or self._link is None or not self._link.alive():
            raise LabError(self._why_dead())

    def _id(self) -> int:
        return next(self._ids)

    def _ask(self, cmd: Any, timeout: float = 10.0) -> Any:
        self._send(cmd)
        return self._wait(("id", cmd.id), timeout)

    def _send(self, cmd: proto.Command) -> None:
        if self._link is None or not self._link.alive():
            raise LabError(self._why_dead())
        try:
            self._link.send_line(encode(cmd))
        except (OSError, ValueError) as exc:
            raise LabError(self._why_dead()) from exc

    # -- the reader thread -------------------------------------------------------------------
    def _read(self, link: Transport) -> None:
        pending = b""
        while chunk := link.read():
            *lines, pending = (pending + chunk).split(b"\n")
            batch: list[Event] = []
            for line in lines:
                msg = json.loads(line)
                if "type" in msg:
                    batch.append(from_wire(msg))
                    continue
                self._deliver(batch)  # a reply is seen only after the events before it
                batch = []
                reply = proto.decode_reply(msg)
                with self._cond:
                    self._replies[proto.reply_key(reply)] = reply
                    self._cond.notify_all()
            self._deliver(batch)
        with self._cond:
            self._dead = True
            self._cond.notify_all()
        if self.on_dead and self._link is link:  # close() drops the link first: a stop we asked for is no news
            self.on_dead(self._why_dead())

    def _deliver(self, batch: list[Event]) -> None:
        if not batch:
            return
        if self.on_event:
            for e in batch:
                self.on_event(e)
        if self.on_batch:
            self.on_batch(batch)

    def _wait(self, key: Any, timeout: float) -> Any:
        with self._cond:
            ok = self._cond.wait_for(lambda: key in self._replies or "error" in self._replies or self._dead, timeout)
            if key in self._replies:
                return self._replies.pop(key)
        if (fatal := self._fatal()) is not None:
            raise LabError(fatal)
        if not ok:
            raise LabError(f"the lab did not answer within {timeout:.0f} s (waiting for {key})")
        raise LabError(self._why_dead())

    def _fatal(self) -> str | None:
        reply = self._replies.get("error")
        return reply.text if isinstance(reply, proto.Fatal) else None

    def _why_dead(self) -> str:
        if (fatal := self._fatal()) is not None:
            return fatal
        last = self._link.last_words() if self._link else ""
        return f"the lab process stopped unexpectedly ({last or 'no message'})"
