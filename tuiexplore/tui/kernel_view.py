"""The kernel panel: the tcp_close source with line numbers, the predicted and the taken branch
marked, and every line wrapped to the panel's width: the lines that answer the question
(``NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPABORTONCLOSE)``) are read in full at any size, with
no horizontal scrolling and nothing under a scrollbar."""

from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tuiexplore import safetext
from tuiexplore.kernel import receipt_source
from tuiexplore.kernel.excerpt import ELSEWHERE, Excerpt

BREAK_AFTER = " ,("  # where a long source line is best wrapped: after a space, a comma, a parenthesis


def title(ex: Excerpt, width: int = 0) -> str:
    """The longest title that fits a border ``width`` wide (0: any): the full provenance is the
    panel's first line, so the title never needs to end in an ellipsis."""
    where = " (bundled)" if ex.origin.startswith("bundled") else ""
    version = f" · Linux {ex.version}" if ex.version else ""
    fn = f"{ex.function}()"
    choices = [f"Kernel: {fn}{version}{where}", f"{fn}{version}", fn]
    return next((t for t in choices if not width or len(t) <= width - 4), choices[-1])


def wrap_points(plain: str, width: int) -> tuple[list[int], int]:
    """Where to cut one source line into rows of at most ``width`` cells, and the hanging indent
    of the rows after the first (the line's own indent plus 4, so a continuation reads as one)."""
    indent = min(len(plain) - len(plain.lstrip(" ")), width // 3) + 4
    cuts, start, room = [], 0, width
    while len(plain) - start > room:
        end = start + room
        # The last good break point in the second half of the row, else a hard cut.
        at = max((i + 1 for i in range(start + room // 2, end) if plain[i] in BREAK_AFTER), default=end)
        cuts.append(at)
        start, room = at, max(width - indent, 8)
    return cuts, indent


class KernelView(VerticalScroll):
    """The source, its provenance and version notes on top (wrapped), the marked lines in full."""

    DEFAULT_CSS = """
    KernelView { overflow-x: hidden; scrollbar-size-vertical: 1; }
    KernelView > #kernel-notes { color: $text-muted; }
    """

    def __init__(self, excerpt: Excerpt, kernel_src: str | None = None, host: bool = True, **kw: Any) -> None:
        super().__init__(classes="panel", **kw)
        # The tree the receipt and timer functions are read from (--kernel-src, a guest line's); None:
        # this machine's looked for when the kernel is this machine's (host), else the bundled ones.
        self.kernel_src, self.host = kernel_src, host
        self.predicted: list[str] = []
        self.taken: list[str] = []
        self.note = ""
        # The next step's prediction while a verdict's marks are kept: (its path, its note).
        self.expected: tuple[list[str], str] | None = None
        self.notes: list[str] = []
        self._notes = Static("", markup=False, id="kernel-notes")
        self._code = Static("", markup=False)
        self._wrapped_at = 0
        self._mark_row: int | None = None  # the row to keep in view: the decisive marked line's first
        self.base = excerpt  # tcp_close's; a received segment's branches show their own function
        self._use(excerpt)

    def compose(self):  # noqa: ANN201
        yield self._notes
        yield self._code

    def _use(self, excerpt: Excerpt) -> None:
        self.excerpt = excerpt
        self._highlighted: list[Content] | None = None

    @property
    def _lines(self) -> list[Content]:
        """The source highlighted when first drawn, once the panel has a width: not before the
        first frame (pygments' C lexer takes 10-25 ms to build), not at all while it is hidden."""
        if self._highlighted is None:
            from textual.highlight import highlight  # imports pygments (~5 ms)

            # Tabs at 4 columns: the kernel's 8 would push the code off a side panel.
            self._highlighted = highlight(self.excerpt.text().expandtabs(4), language="c").split("\n")
        return self._highlighted

    def set_excerpt(self, excerpt: Excerpt, notes: list[str]) -> None:
        """Another source (the running kernel's own, found in the background) and what it means."""
        if self.excerpt is self.base:
            self._use(excerpt)
        self.base = excerpt
        self.notes = notes
        self.render_code()

    def on_mount(self) -> None:
        self.render_code()

    def on_resize(self) -> None:
        """Also sent when the scrollable height changed: a scroll to the mark made before the
        newly wrapped code was laid out stopped short of it, and is made again."""
        if self.code_width() != self._wrapped_at:
            self.render_code()
        else:
            self._scroll_to_mark()

    def code_width(self) -> int:
        """The width the code wraps at: the scrollbar's column kept whether or not it is shown
        yet (the code is taller than the panel), so its coming does not make a second layout."""
        return max(0, self.content_region.width - self.styles.scrollbar_size_vertical)

    def mark(self, predicted: list[str] | None = None, taken: list[str] | None = None, note: str = "") -> None:
        self.predicted, self.taken, self.note, self.expected = predicted or [], taken or [], note, None
        # The function the path decides in: a received segment's or a timer's (kernel/receipt_source.py), else tcp_close.
        shown = receipt_source.deciding(self.taken or self.predicted, self.base, self.kernel_src, self.host)
        if shown is not self.excerpt:
            self._use(shown)
        self.render_code()

    def expect(self, predicted: list[str], note: str, keep: bool) -> None:
        """The next step's prediction. ``keep``: the step just done was judged, so what the kernel
        did stays marked (a timer's lines in its own function too) until the next step starts
        (``show_expected``); the prediction is said after the verdict's note meanwhile."""
        if not keep or not self.taken:
            self.mark(predicted=predicted, note=note)
            return
        self.expected = (predicted, note)
        self.border_subtitle = self._subtitle()

    def show_expected(self) -> None:
        """A step starts: the prediction kept by ``expect`` now replaces the last verdict's marks."""
        if self.expected is not None:
            predicted, note = self.expected
            self.mark(predicted=predicted, note=note)

    def _subtitle(self) -> str:
        return " · ".join([*([self.note] if self.note else []), *([self.expected[1]] if self.expected else [])])

    def lines_of(self, branches: list[str]) -> set[int]:
        return {n for b in branches for n in self.excerpt.branches.get(b, [])}

    def render_code(self) -> None:
        ex = self.excerpt
        self.border_title = Content(safetext.terminal(title(ex, self.size.width)))  # a version, not markup
        elsewhere = [ELSEWHERE[b] for b in self.taken + self.predicted if b in ELSEWHERE]
        head = [*elsewhere, f"source: {ex.origin}", *(f"note: {n}" for n in self.notes), *([ex.hint] if ex.hint else [])]
        self._notes.update(Content("\n".join(safetext.terminal(h) for h in head)))
        width = self._wrapped_at = self.code_width()
        if not width:
            return  # not laid out yet: on_resize wraps the code once, at its width
        hot, pred = self.lines_of(self.taken), self.lines_of(self.predicted)
        number = len(str(ex.last_line))
        out: list[Content] = []
        first_row: dict[int, int] = {}  # file line -> its first row
        for i, line in enumerate(self._lines):
            n = ex.first_line + i
            first_row[n] = len(out)
            mark = "▶" if n in hot else ("?" if n in pred else " ")
            gutter = f"{n:>{number}} {mark} "
            room = width - len(gutter) - 1
            cuts, indent = wrap_points(line.plain, room) if room > 8 else ([], 0)
            for k, piece in enumerate(line.divide(cuts)):
                lead = Content.styled(gutter, "$text-muted") if k == 0 else Content(" " * (len(gutter) + indent))
                row = lead + piece
                if n in hot:
                    row = row.stylize_before("on $hot-line")
                elif n in pred:
                    row = row.stylize_before("on $predicted-line")
                out.append(row)
        self._code.update(Content("\n").join(out))
        # A fixed size spares every screen layout from measuring ~200 highlighted lines.
        self._code.styles.width = width
        self._code.styles.height = len(out)
        # Scroll to the decisive branch (the last one marked), not to the drain loop before it;
        # to the top (where a branch whose code is elsewhere is said) when nothing is marked.
        decisive = self.taken[-1:] or self.predicted[-1:]
        target = sorted(self.lines_of(decisive) or hot or pred)
        self._mark_row = first_row[target[0]] if target else None
        self.call_after_refresh(self._scroll_to_mark)
        self.border_subtitle = self._subtitle()

    def _scroll_to_mark(self) -> None:
        above = self._notes.outer_size.height
        row = self._mark_row
        self.scroll_to(y=0 if row is None else max(0, above + row - 3), animate=False)
