"""Two runs side by side in the terminal, the first divergence on the wire highlighted.

One scenario on two kernels: under each side's steps, the function that kernel decided a verdict
in (tcp_close, or a receipt or timer function), from its own source, with the branch it took
marked; ``v`` moves both panels to the next verdict.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tuiexplore.config import Settings
from tuiexplore.reports.compare import Row, first_divergence, focus_row, verdict_rows, verdict_text, verdicts_differ
from tuiexplore.reports.sources import SideSource
from tuiexplore.tui import theme as themes
from tuiexplore.tui.footer import KeysFooter
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.settings import apply as apply_settings
from tuiexplore.tui.widgets import printable

SIDES = ("left", "right")


class CompareApp(App):
    TITLE = "tuiexplore compare"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="compare.quit", tooltip="quit"),
        Binding("d", "divergence", "Go to divergence", id="compare.divergence", tooltip="go to the first divergence on the wire"),
        Binding("v", "next_verdict", "Next verdict", id="compare.next_verdict", tooltip="both kernel panels to the next verdict"),
        Binding("k", "toggle_kernel", "Kernel panels", id="compare.kernel", tooltip="show or hide the kernel panels"),
    ]
    CSS = """
    Horizontal { height: 1fr; }
    Horizontal > Vertical { width: 1fr; }
    VerticalScroll { height: 1fr; border: round $primary 40%; overflow-x: auto; }
    VerticalScroll > Static { width: auto; text-wrap: nowrap; }
    KernelView { height: 1fr; overflow-x: hidden; border: round $primary 40%; border-subtitle-color: $text-muted; }
    KernelView > #kernel-notes { width: 1fr; text-wrap: wrap; }  /* its code wraps itself (kernel_view.py) */
    #summary { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    """

    def __init__(
        self,
        rows: list[Row],
        names: tuple[str, str],
        theme: str | None = None,
        sources: tuple[SideSource, SideSource] | None = None,
        kernels: tuple[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        self.settings = apply_settings(self, settings, theme)  # theme and keymap
        self.rows = rows
        self.names = (printable(names[0]), printable(names[1]))  # titles come from files: shown, never run
        self.sources = sources  # each side's own source: its branch lines and its kernel panel
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
        where = (
            "no difference on the wire"
            if self.first is None
            else f"first divergence on the wire: {self.rows[self.first].label()} (d)"
        )
        yield Static(Content(f"{self.names[0]}  ⟷  {self.names[1]} · {where}"), id="summary", markup=False)
        with Horizontal():
            for i, (side, name) in enumerate(zip(SIDES, self.names, strict=True)):
                with Vertical():
                    with VerticalScroll(id=side) as v:
                        v.border_title = Content(name)  # a plain str would be parsed as markup
                        if self.sources:
                            v.border_subtitle = Content(printable(f"branch lines: {self.sources[i].tcp_close.origin}"))
                        yield Static(self.column(side), markup=False, id=f"{side}-rows")
                    if self.sources:
                        src = self.sources[i]
                        yield KernelView(src.tcp_close, src.tree, src.host, id=f"{side}-kernel")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.action_divergence()
        self.show_focus()

    def show_focus(self) -> None:
        """Both kernel panels on the focus row: each marks the branch its own side's verdict took."""
        if not self.sources:
            return
        focus = self.focus
        r = self.rows[focus] if focus is not None else None
        for side in SIDES:
            view = self.query_one(f"#{side}-kernel", KernelView)
            s = getattr(r, side) if r is not None else None
            if r is None or s is None or s.verdict is None:
                view.mark(note=f"no verdict on this side at {r.label()}" if r is not None else "no verdict")
            else:
                how = "decided differently" if verdicts_differ(r) else "same decision"
                note = f"{r.label()}: {s.verdict.call}() -> {s.verdict.observed} [{s.verdict.branch}] · {how}"
                view.mark(taken=list(s.verdict.path) or [s.verdict.branch], note=printable(note))
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
