"""Two runs side by side in the terminal, the first divergence on the wire highlighted.

One scenario on two kernels: under each side's steps, that kernel's own tcp_close (from its own
tcp.c) with the branch its verdict took marked; ``v`` moves both panels to the next verdict.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.reports.compare import Row, first_divergence, focus_row, verdict_rows, verdict_text, verdicts_differ
from tuiexplore.tui import theme as themes
from tuiexplore.tui.footer import KeysFooter
from tuiexplore.tui.widgets import KernelView, printable

SIDES = ("left", "right")


class CompareApp(App):
    TITLE = "tuiexplore compare"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("d", "divergence", "Go to divergence", id="divergence"),
        Binding("v", "next_verdict", "Next verdict", id="next_verdict"),
        Binding("k", "toggle_kernel", "Kernel panels", id="toggle_kernel"),
    ]
    CSS = """
    Horizontal { height: 1fr; }
    Horizontal > Vertical { width: 1fr; }
    VerticalScroll { height: 1fr; border: round $primary 40%; overflow-x: auto; }
    VerticalScroll > Static { width: auto; text-wrap: nowrap; }
    KernelView { height: 1fr; overflow-x: auto; border: round $primary 40%; border-subtitle-color: $text-muted; }
    #summary { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    """

    def __init__(
        self,
        rows: list[Row],
        names: tuple[str, str],
        theme: str | None = None,
        sources: tuple[Excerpt, Excerpt] | None = None,
        kernels: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        for t in themes.load_themes():
            self.register_theme(t)
        self.theme = themes.resolve(theme, list(self.available_themes))
        self.rows = rows
        self.names = (printable(names[0]), printable(names[1]))  # titles come from files: shown, never run
        self.sources = sources  # each side's own tcp.c: its branch lines and its kernel panel
        self.kernels = kernels  # what each side ran on, e.g. "guest Linux 6.1.176 (..., QEMU TCG)"
        self.first = first_divergence(rows)
        self.focus = focus_row(rows) if sources else None  # the verdict row the kernel panels show

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)

    def heights(self) -> list[int]:
        """Lines of each row: the call, then its packets and its verdict if either side has them."""
        return [1 + bool(r.left.packets or r.right.packets) + bool(r.left.verdict or r.right.verdict) for r in self.rows]

    def column(self, side: str) -> Content:
        lines: list[Content] = []
        ex = self.sources[SIDES.index(side)] if self.sources else None
        for i, (r, height) in enumerate(zip(self.rows, self.heights(), strict=True)):
            s = getattr(r, side)
            text = Content(printable(s.text()) if s.step else "·  (no such step here)")
            wire = Content("   " + "  ".join(s.wire())) if s.packets or (r.left.packets or r.right.packets) else None
            verdict = Content("   " + verdict_text(s, ex)) if s.verdict else None
            block = [x for x in (text, wire, verdict) if x is not None]
            block += [Content("")] * (height - len(block))  # rows stay aligned across the two columns
            style = "on $rst 35%" if i == self.first else ("$text-muted" if s.step is None else "")
            gutter = Content("▶ " if i == self.focus else "  ")
            lines += [gutter + (b.stylize_before(style) if style else b) for b in block]
        return Content("\n").join(lines)

    def compose(self) -> ComposeResult:
        where = "no difference on the wire" if self.first is None else f"first divergence on the wire: row {self.first + 1} (d)"
        yield Static(Content(f"{self.names[0]}  ⟷  {self.names[1]} · {where}"), id="summary", markup=False)
        with Horizontal():
            for i, (side, name) in enumerate(zip(SIDES, self.names, strict=True)):
                with Vertical():
                    with VerticalScroll(id=side) as v:
                        v.border_title = Content(name)  # a plain str would be parsed as markup
                        if self.sources:
                            v.border_subtitle = Content(printable(f"branch lines: {self.sources[i].origin}"))
                        yield Static(self.column(side), markup=False, id=f"{side}-rows")
                    if self.sources:
                        yield KernelView(self.sources[i], id=f"{side}-kernel")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.action_divergence()
        self.show_focus()

    def kernel_title(self, i: int) -> str:
        kernel = self.kernels[i] if self.kernels else ""
        origin = self.sources[i].origin if self.sources else ""
        return f"Kernel: tcp_close() · {kernel + ' · ' if kernel else ''}{origin}"

    def show_focus(self) -> None:
        """Both kernel panels on the focus row: each marks the branch its own side's verdict took."""
        if not self.sources:
            return
        focus = self.focus
        r = self.rows[focus] if focus is not None else None
        for i, side in enumerate(SIDES):
            view = self.query_one(f"#{side}-kernel", KernelView)
            s = getattr(r, side) if r is not None else None
            if focus is None or r is None or s is None or s.verdict is None:
                view.mark(note="no verdict on this side in the marked row" if r is not None else "no verdict")
            else:
                how = "decided differently" if verdicts_differ(r) else "same decision"
                note = f"row {focus + 1}: {s.verdict.call}() -> {s.verdict.observed} [{s.verdict.branch}] · {how}"
                view.mark(taken=list(s.verdict.path) or [s.verdict.branch], note=printable(note))
            view.border_title = Content(printable(self.kernel_title(i)))  # paths and versions, not markup
            self.query_one(f"#{side}-rows", Static).update(self.column(side))

    def action_next_verdict(self) -> None:
        found = verdict_rows(self.rows)
        if not found or not self.sources:
            return
        later = [i for i in found if self.focus is None or i > self.focus]
        self.focus = later[0] if later else found[0]
        self.show_focus()
        self.scroll_rows(self.focus)

    def action_toggle_kernel(self) -> None:
        for view in self.query(KernelView):
            view.display = not view.display

    def action_divergence(self) -> None:
        if self.first is not None:
            self.scroll_rows(self.first)

    def scroll_rows(self, row: int) -> None:
        y = sum(self.heights()[:row])
        for side in SIDES:
            self.query_one(f"#{side}", VerticalScroll).scroll_to(y=max(0, y - 3), animate=False)
