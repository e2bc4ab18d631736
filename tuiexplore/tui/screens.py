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
| key | action |
| --- | --- |
| `n` / `space` | run the scenario's next step |
| `r` | restart the lab fresh (same scenario) |
| `o` | open another scenario (built-in or TOML file) |
| `s` | seed server loop on/off: the server accepts, writes "1" on EPOLLOUT, closes on HUP, by itself |
| client: `k` `c` `e` `w` `h` `l` `x` `z` | socket, connect, read, write "x", shutdown(SHUT_WR), SO_LINGER {1,0}, close, exit |
| server: `A` `E` `R` `W` `X` | accept, epoll_wait, read, write "1", close |
| `ctrl+p` | command palette: any call with its arguments, for any actor |
| `1` `2` `3` `4` | show actors / packets / kernel / sockets (narrow terminals) |
| `v` | verdict details |
| `t` | tcp_close_state() and its transition table |
| `d` | the packet exchange as a ladder (sequence) diagram |
| `m` | the TCP state diagram: each socket in its state, its last move lit with its cause (tab 5 when narrow) |
| `S` · `T` on the packets | absolute sequence numbers (tcpdump -S) · timestamps as -ttt / -ttttt |
| `ctrl+e` | export: pcap, JSON Lines timeline, Markdown transcript, SVG of this screen |
| `?` | this help · `q` quit |

Keys that make no sense now (close before socket) are dimmed in the footer. Esc only closes
dialogs; it never changes the lab.

## In front of a room: guess first, then record
- **Quiz** (`--quiz`, `tuiexplore quiz`, or "Quiz" in the palette): before each closing step
  (close, shutdown, exit, a disconnect) you say what the kernel will put on the wire: **f** FIN,
  **r** RST, **x** nothing. The app's own prediction stays hidden; your answer is locked before
  the step runs, then judged against what the kernel really sent, with the branch that decided
  it. The score is on the line under the verdict; **g** shows every answer so far, and the end
  of the scenario sums them up (`tuiexplore quiz`: Enter plays the next lesson, progress kept).
- **Recording** (`--record FILE.cast`): what this terminal shows is written as an asciicast v2
  file with its real timing (pauses over 2 s shortened, 30 minutes or 32 MB at most); replay it
  with `asciinema play FILE.cast`. **ctrl+r** (`● REC` in the footer) ends the file early. The
  export (**ctrl+e**) adds `session.cast`: the session so far, recorded or not.
"""


class Dialog(ModalScreen[object]):
    BINDINGS = [Binding("escape", "dismiss", "Close", id="dialog.close")]
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > .dialog { width: 90%; height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    ScenarioPicker OptionList { height: 1fr; }
    TextScreen .dialog { overflow-x: auto; }
    TextScreen .dialog > Static { width: auto; }
    ScenarioPicker #error { height: auto; }
    """


class ReadOnlyDialog(Dialog):
    BINDINGS = [Binding("q", "dismiss", "Close", id="dialog.quit")]


class HelpScreen(ReadOnlyDialog):
    def compose(self) -> ComposeResult:
        # Imported when help is first opened: Markdown brings markdown-it, 12 ms of the launch.
        from textual.widgets import Markdown

        with VerticalScroll(classes="dialog"):
            yield Markdown(HELP)


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
