"""The command palette's provider: any call an actor could make now, with its arguments."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tuiexplore.domain import LabInfo
from tuiexplore.session import FdModel
from tuiexplore.tui.keys import palette_calls


class CallsHost(Protocol):
    """What the palette asks of the screen it opens on (explorer.ExplorerScreen, which imports this module)."""

    models: dict[str, FdModel]
    info: LabInfo | None

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
    """The state diagram's entry, then entries from ``keys.palette_calls`` for each actor, as it
    holds its fds now."""

    def entries(self) -> Iterator[tuple[str, str, Callable[[], None]]]:
        explorer = cast(CallsHost, self.screen)  # the explorer: the only screen with this provider
        yield "TCP state diagram", "each socket in its state, its last move lit (m)", explorer.action_diagram
        for title, bound in (("up to 10 s", {}), ("however long, up to 2 min", {"max_ms": 120_000})):
            run = partial(explorer.run_manual, "lab", "wait", bound)
            yield f"lab: wait for the next timer ({title})", "the lab waits until a lab socket's next timer fires (f)", run
        wire = explorer.info.wire if explorer.info else "loopback"
        for actor in explorer.actor_names():
            for title, call, args in palette_calls(actor, explorer.models.get(actor, FdModel()), wire):
                yield f"{actor}: {title}", f"run {call} in {actor} now", partial(explorer.run_manual, actor, call, args)
