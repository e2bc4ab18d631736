"""The command palette's provider: any call an actor could make now, with its arguments, and a
release of each segment the relay holds."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tuiexplore.domain import LabInfo
from tuiexplore.reports.relaymarks import still_held
from tuiexplore.session import FdModel
from tuiexplore.timeline import Event, PacketEvent
from tuiexplore.tui.keys import palette_calls


class CallsHost(Protocol):
    """What the palette asks of the screen it opens on (explorer.ExplorerScreen, which imports this module)."""

    models: dict[str, FdModel]
    info: LabInfo | None
    events: list[Event]

    def action_diagram(self) -> None: ...
    def actor_names(self) -> list[str]: ...
    def run_manual(self, actor: str, call: str, args: dict[str, Any]) -> None: ...


class Entries(Provider):
    """A palette provider whose entries are (text, help, action) triples, matched on the text."""

    def entries(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for text, help_text, run in self.entries():
            yield DiscoveryHit(text, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, run in self.entries():
            if (score := matcher.match(text)) > 0:
                yield Hit(score, matcher.highlight(text), run, help=help_text)


class ActorCalls(Entries):
    """The state diagram's entry, a release of each segment the relay holds (and of all of
    them), then entries from ``keys.palette_calls`` for each actor, as it holds its fds now."""

    def entries(self) -> Iterator[tuple[str, str, Callable[[], None]]]:
        explorer = cast(CallsHost, self.screen)  # the explorer: the only screen with this provider
        yield "TCP state diagram", "each socket in its state, its last move lit (m)", explorer.action_diagram
        for title, bound in (("up to 10 s", {}), ("however long, up to 2 min", {"max_ms": 120_000})):
            run = partial(explorer.run_manual, "lab", "wait", bound)
            yield f"lab: wait for the next timer ({title})", "the lab waits until a lab socket's next timer fires (f)", run
        yield from release_entries(explorer)
        wire = explorer.info.wire if explorer.info else "loopback"
        for actor in explorer.actor_names():
            for title, call, args in palette_calls(actor, explorer.models.get(actor, FdModel()), wire):
                yield f"{actor}: {title}", f"run {call} in {actor} now", partial(explorer.run_manual, actor, call, args)


def release_entries(explorer: CallsHost) -> Iterator[tuple[str, str, Callable[[], None]]]:
    """"release #N" for each held segment (one released before another held earlier: a
    reorder), and "release all" (each direction's release of everything it holds)."""
    held = [(p, sender(p, explorer.actor_names())) for p in still_held(explorer.events)]
    for p, actor in held:
        if actor:
            text = f"release #{p.index} ({p.src} {p.flags} to {p.dst})"
            run = partial(explorer.run_manual, actor, "release", {"packet": p.index})
            yield text, f"the relay delivers packet #{p.index} now", run
    directions = list(dict.fromkeys(actor for _, actor in held if actor))
    if directions:

        def release_all() -> None:
            for actor in directions:
                explorer.run_manual(actor, "release", {})

        yield "release all held segments", f"the relay delivers all {len(held)} in the order it held them", release_all


def sender(p: PacketEvent, actors: list[str]) -> str:
    """The actor whose direction a packet is (a wire call names its direction by an actor: the
    server's side, or any other actor's, the client's); "" if neither end is known."""
    if p.src in actors:
        return p.src
    if p.dst == "server":
        return next((a for a in actors if a != "server"), "")
    return "server" if p.dst in actors else ""
