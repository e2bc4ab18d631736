"""Two runs side by side in the terminal, the first divergence on the wire highlighted."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Static

from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.reports.compare import Row, first_divergence, verdict_text
from tuiexplore.tui import theme as themes
from tuiexplore.tui.widgets import printable


class CompareApp(App):
    TITLE = "tuiexplore compare"
    BINDINGS = [Binding("q", "quit", "Quit", id="quit"), Binding("d", "divergence", "Go to divergence", id="divergence")]
    CSS = """
    Horizontal { height: 1fr; }
    VerticalScroll { width: 1fr; border: round $primary 40%; overflow-x: auto; }
    VerticalScroll > Static { width: auto; }
    #summary { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(
        self, rows: list[Row], names: tuple[str, str], theme: str | None = None, sources: tuple[Excerpt, Excerpt] | None = None
    ) -> None:
        super().__init__()
        for t in themes.load_themes():
            self.register_theme(t)
        self.theme = themes.resolve(theme, list(self.available_themes))
        self.rows = rows
        self.names = (printable(names[0]), printable(names[1]))  # titles come from files: shown, never run
        self.sources = sources  # each side's own tcp.c, for its branch lines
        self.first = first_divergence(rows)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)

    def column(self, side: str) -> Content:
        lines: list[Content] = []
        for i, r in enumerate(self.rows):
            s = getattr(r, side)
            text = Content(printable(s.text()) if s.step else "·  (no such step here)")
            wire = Content("   " + "  ".join(s.wire())) if s.packets or (r.left.packets or r.right.packets) else None
            ex = self.sources[0 if side == "left" else 1] if self.sources else None
            verdict = Content("   " + verdict_text(s, ex)) if s.verdict else None
            block = [x for x in (text, wire, verdict) if x is not None]
            height = 1 + bool(r.left.packets or r.right.packets) + bool(r.left.verdict or r.right.verdict)
            block += [Content("")] * (height - len(block))  # rows stay aligned across the two columns
            style = "on $rst 35%" if i == self.first else ("$text-muted" if s.step is None else "")
            lines += [b.stylize_before(style) if style else b for b in block]
        return Content("\n").join(lines)

    def compose(self) -> ComposeResult:
        where = "no difference on the wire" if self.first is None else f"first divergence on the wire: row {self.first + 1} (d)"
        yield Static(Content(f"{self.names[0]}  ⟷  {self.names[1]} · {where}"), id="summary", markup=False)
        with Horizontal():
            for side, name in (("left", self.names[0]), ("right", self.names[1])):
                with VerticalScroll(id=side) as v:
                    v.border_title = Content(name)  # a plain str would be parsed as markup
                    if self.sources:
                        v.border_subtitle = Content(f"branch lines: {self.sources[0 if side == 'left' else 1].origin}")
                    yield Static(self.column(side), markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.action_divergence()

    def action_divergence(self) -> None:
        if self.first is None:
            return
        y = sum(
            1 + bool(r.left.packets or r.right.packets) + bool(r.left.verdict or r.right.verdict) for r in self.rows[: self.first]
        )
        for side in ("#left", "#right"):
            self.query_one(side, VerticalScroll).scroll_to(y=max(0, y - 3), animate=False)
