"""The explorer's actors panel: one ActorLog per actor, fed the timeline events that belong to an
actor. It keeps what those lines need (each step's origin and narration, whose step a note is),
so the screen hands it every event and renders none of them itself."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from textual.containers import Horizontal

from tuiexplore.timeline import EpollEvent, Event, NoteEvent, StateEvent, StepEvent, TimersEvent
from tuiexplore.tui.widgets import ActorLog, log_id


class ActorLogs(Horizontal):
    def __init__(self, actors: list[str], **kw: Any) -> None:
        super().__init__(*(ActorLog(actor, id=log_id(actor)) for actor in actors), **kw)
        self.origin: dict[int, str] = {}  # step number -> "scenario" | "manual" | "server policy"
        self.narrations: dict[int, str] = {}  # step number -> what the scenario says about it
        self.actor_of: dict[int, str] = {}  # step number -> its actor, for the notes that follow it
        self.timers: dict[tuple[str, str, str], int] = {}  # (actor, fd, kind) -> ms left, at the last step's end

    def log_of(self, actor: str) -> ActorLog:
        """The actor's log; one the scenario did not name gets its panel on first use."""
        found = self.query(f"#{log_id(actor)}")
        if found:
            return found.first(ActorLog)
        log = ActorLog(actor, id=log_id(actor))
        self.mount(log)
        return log

    def clear(self) -> None:
        self.origin.clear()
        self.narrations.clear()
        self.actor_of.clear()
        self.timers.clear()
        for log in self.query(ActorLog):
            log.clear()

    async def replace(self, actors: list[str]) -> None:
        """Another scenario's actors: the new panels reuse the ids, so the old ones go first."""
        self.clear()
        await self.remove_children()
        await self.mount_all([ActorLog(actor, id=log_id(actor)) for actor in actors])

    def add_events(self, events: list[Event]) -> None:
        # A note may come before its step's event in a batch: whose step it is, first.
        self.actor_of.update((e.step, e.actor) for e in events if isinstance(e, StepEvent))
        for e in events:
            self.add_event(e)

    # -- one method per kind of event, chosen by its type ------------------------------------
    @singledispatchmethod
    def add_event(self, e: Event) -> None:
        """Not an actor's (packets, verdicts, counters): other panels show it."""

    @add_event.register
    def add_step(self, e: StepEvent) -> None:
        log = self.log_of(e.actor)
        log.add_step(e, self.origin.get(e.step, "scenario"))
        if e.step in self.narrations and self.origin.get(e.step) == "scenario":
            log.add_narration(self.narrations[e.step])

    @add_event.register
    def add_epoll(self, e: EpollEvent) -> None:
        self.log_of(e.actor).add_epoll(e)

    @add_event.register
    def add_state(self, e: StateEvent) -> None:
        if e.actor == "?":  # a socket no actor holds (yet)
            return
        text = f"state {e.who()}: {e.old} → {e.new}"
        if e.old == "CLOSE" and e.new in ("FIN_WAIT2", "TIME_WAIT"):
            # tcp_time_wait() traces the full socket's X -> CLOSE; a mini-socket carries on.
            text = f"state {e.who()}: handed over to a timewait mini-socket in {e.new}"
        self.log_of(e.actor).add_note(NoteEvent(e.t, "info", text))

    @add_event.register
    def add_timers(self, e: TimersEvent) -> None:
        """A pending timer in its socket's log when the kernel arms it: new since the last step,
        or armed again (more time left than the step before said)."""
        before, self.timers = self.timers, {}
        for p in e.timers:
            key = (p["actor"], p["fd"], p["kind"])
            self.timers[key] = p["due_ms"]
            if p["actor"] != "?" and (key not in before or p["due_ms"] > before[key]):
                self.log_of(p["actor"]).add_note(NoteEvent(e.t, "info", f"timer {p['fd']} ({p['state']}): {p['text']}"))

    @add_event.register
    def add_note(self, e: NoteEvent) -> None:
        # Warnings and notes of no step are toasts (the screen's); the rest go under their step.
        if e.level not in ("warn", "error") and e.step in self.actor_of:
            self.log_of(self.actor_of[e.step]).add_note(e)
