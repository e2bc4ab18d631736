"""What the explorer does before its first frame: the kernel panel's source is highlighted when
the panel is first drawn with a width (pygments' C lexer takes 10-25 ms to build), never for a
panel that stays hidden (the narrow terminal's tabs)."""

from __future__ import annotations

import asyncio

import pytest
import textual.highlight
from pilot_wait import until
from textual.app import App, ComposeResult

from tuiexplore.kernel.excerpt import bundled
from tuiexplore.tui import kernel_view
from tuiexplore.tui.kernel_view import KernelView


class Panels(App):
    CSS = "#hidden { display: none; }"

    def __init__(self) -> None:
        super().__init__()
        self.at_first_frame: int | None = None  # highlights made by the first frame

    def compose(self) -> ComposeResult:
        yield KernelView(bundled(), id="shown")
        yield KernelView(bundled(), id="hidden")

    def _display(self, screen, renderable) -> None:  # noqa: ANN001
        if renderable is not None and self.at_first_frame is None:
            self.at_first_frame = len(made)
        super()._display(screen, renderable)


made: list[str] = []


def test_the_source_is_highlighted_after_the_first_frame_and_only_where_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    real = textual.highlight.highlight

    def counted(code: str, **kw: object):  # noqa: ANN202
        made.append(code)
        return real(code, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(textual.highlight, "highlight", counted)
    monkeypatch.setattr(kernel_view, "highlight", counted, raising=False)  # had it been imported at the top
    made.clear()

    async def run() -> None:
        app = Panels()
        async with app.run_test(size=(120, 40)) as pilot:
            shown = app.query_one("#shown", KernelView)
            await until(pilot, lambda: shown._code.render().plain.strip(), 10, "the shown panel's code")
            assert app.at_first_frame == 0
            assert len(made) == 1  # the shown panel's; the hidden one never needed it
            code = shown._code.render()
            assert "tcp_close" in code.plain
            assert any(span.style for span in code.spans)  # highlighted

    asyncio.run(run())
