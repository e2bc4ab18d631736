"""KeysFooter: a key enabled or disabled since the footer composed is dimmed or lit on the key
that is there (no recompose, which mounts and lays out the whole footer again); a key more or
less recomposes it."""

import asyncio

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets._footer import FooterKey

from tuiexplore.tui.footer import KeysFooter


class KeysApp(App):
    BINDINGS = [Binding("w", "write", "write"), Binding("q", "quit_it", "quit")]
    busy = False
    extra = False

    def compose(self) -> ComposeResult:
        yield KeysFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "write":
            return None if self.busy else True  # None: shown dimmed (False would hide it)
        return True

    def action_write(self) -> None:
        pass

    def action_quit_it(self) -> None:
        pass


async def keys(pilot) -> dict[str, FooterKey]:
    for _ in range(100):
        await pilot.pause(0.02)
        found = {k.description: k for k in pilot.app.query(FooterKey)}
        if found:
            return found
    raise AssertionError("no keys")


def test_a_key_disabled_then_enabled_is_the_same_key_dimmed_then_lit():
    async def run():
        app = KeysApp()
        async with app.run_test() as pilot:
            await keys(pilot)
            await pilot.pause(0.3)  # the start-up burst's one compose (KeysFooter) is done
            first = await keys(pilot)
            assert not first["write"].has_class("-disabled")
            app.busy = True
            app.refresh_bindings()
            await pilot.pause(0.1)
            now = await keys(pilot)
            assert now["write"] is first["write"] and now["write"].has_class("-disabled")
            assert now["write"]._disabled and not now["quit"].has_class("-disabled")
            app.busy = False
            app.refresh_bindings()
            await pilot.pause(0.1)
            now = await keys(pilot)
            assert now["write"] is first["write"] and not now["write"].has_class("-disabled")
            app.bind("x", "other", description="another")  # a key more: composed anew
            app.refresh_bindings()
            await pilot.pause(0.1)
            now = await keys(pilot)
            assert "another" in now and now["quit"] is not first["quit"]

    asyncio.run(run())
