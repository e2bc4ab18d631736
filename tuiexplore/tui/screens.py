"""Modal screens: help, packet detail, verdict detail, scenario picker."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tuiexplore.scenarios.scenario import ScenarioError, builtin_names, load
from tuiexplore.tui.widgets import printable

HELP = """\
# tuiexplore: why did close() send RST instead of FIN?

Every step is **one real syscall** in one actor process, in a private network namespace.
The kernel's answer is shown as it happened: the packets on the wire, the epoll events,
the socket states and counters, and (as root) its tracepoints.

## Panels
- **Server / Client** (one per actor): each syscall with its return value or errno; the
  server's `epoll_wait` results with decoded flags and the hex mask (`events: 201d`).
- **Packets**: the live capture in tcpdump notation, relative seq/ack, FIN and RST coloured;
  `<n>` is the step that caused the packet. **Enter** on a row: full dissection and why it was sent.
- **Kernel**: the `tcp_close` source. `?` marks the branch the app **predicts** for the next
  closing step; `▶` marks the branch the kernel **took**.
- **Sockets**: per socket its owner (actor, pid, process), TCP state, Recv-Q, Send-Q, unsent
  bytes, SO_LINGER, TCP_LINGER2, accept queue.
- **Verdict** (bottom): what the last closing call did, why, and whether the prediction held.
  **v** opens it in full: the packets, counters and state changes behind it.

## Keys
{keys}
| `ctrl+p` | command palette: any call with its arguments, for any actor |

Keys that make no sense now (close before socket) are dimmed in the footer. Esc only closes
dialogs; it never changes the lab.
"""


class Dialog(ModalScreen[object]):
    BINDINGS = [Binding("escape", "dismiss", "Close", id="dialog.close", tooltip="close the dialog")]
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > .dialog { width: 90%; height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    ScenarioPicker OptionList { height: 1fr; }
    TextScreen .dialog { overflow-x: auto; }
    TextScreen .dialog > Static { width: auto; }
    ScenarioPicker #error { height: auto; }
    """


class ReadOnlyDialog(Dialog):
    BINDINGS = [Binding("q", "dismiss", "Close", id="dialog.quit", tooltip="close a dialog that only shows text")]


class HelpScreen(ReadOnlyDialog):
    """The explorer's help; ``keys``: its key table's rows, as the keymap has them (keyhelp)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        # Imported when help is first opened: Markdown brings markdown-it, 12 ms of the launch.
        from textual.widgets import Markdown

        with VerticalScroll(classes="dialog"):
            yield Markdown(HELP.format(keys="\n".join(["| key | action |", "| --- | --- |", *self.keys])))


class TextScreen(ReadOnlyDialog):
    """Plain text (dissections, verdict details): never parsed as markup."""

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.body = title, text

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog") as v:
            v.border_title = Content(printable(self.title_text))
            yield Static(Content(printable_block(self.body)), markup=False)


def printable_block(text: str) -> str:
    return "\n".join(printable(line) for line in text.splitlines())


class ScenarioPicker(Dialog):
    """Built-in scenarios with their summaries, or a path to a TOML file."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as v:
            v.border_title = "Open a scenario: Enter on a built-in, or type a TOML path below"
            options = []
            for name in builtin_names():
                s = load(name)
                options.append(Option(Content.assemble((name, "bold"), f"  {s.title}\n", (s.summary, "$text-muted")), id=name))
            yield OptionList(*options, id="builtins")
            yield Input(placeholder="path/to/scenario.toml  (Enter to open)", id="path")
            yield Static("", id="error", markup=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:  # every option is a built-in, by its name
            self.dismiss(load(event.option.id))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(load(event.value.strip()))
        except ScenarioError as exc:
            self.query_one("#error", Static).update(Content.styled(str(exc), "$error"))
