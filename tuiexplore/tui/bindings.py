"""The explorer's key map: panel tabs, scenario keys, and the manual keys of ``keys.py``.

Every binding has an id, by which a user's keymap rebinds it (``tuiexplore.config``); its
tooltip is what the help screen and the manual say it does (the description is the footer's).
"""

from __future__ import annotations

from textual.binding import Binding

from tuiexplore.tui.keys import CLIENT_KEYS, SERVER_KEYS

PANELS = ("actors", "packets", "kernel", "sockets", "diagram")
CLIENT_GROUP = Binding.Group("client", compact=True)
SERVER_GROUP = Binding.Group("server", compact=True)

EXPLORER_BINDINGS = [
    Binding("n,space", "next", "Next step", id="next", tooltip="run the scenario's next step"),
    Binding("r", "restart", "Restart", id="restart", tooltip="restart the lab fresh (same scenario)"),
    Binding("o", "open", "Open", id="open", tooltip="open another scenario (built-in or TOML file)"),
    Binding(
        "s",
        "seed",
        "Server loop",
        id="seed",
        tooltip='seed server loop on/off: the server accepts, writes "1" on EPOLLOUT, closes on HUP, by itself',
    ),
    Binding(
        "v",
        "dialog('verdict')",
        "Verdict",
        id="verdict",
        show=False,
        tooltip="the verdict in full: packets, state changes, counters",
    ),
    Binding(
        "t",
        "dialog('table')",
        "tcp_close_state table",
        id="table",
        show=False,
        tooltip="tcp_close_state() and its transition table",
    ),
    Binding(
        "ctrl+e",
        "export",
        "Export",
        id="export",
        show=False,
        tooltip="export: pcap, JSON Lines timeline, Markdown transcript, SVG of this screen",
    ),
    Binding(
        "d",
        "dialog('ladder')",
        "Ladder diagram",
        id="ladder",
        show=False,
        tooltip="the packet exchange as a ladder (sequence) diagram",
    ),
    Binding(
        "m",
        "diagram",
        "State diagram",
        id="diagram",
        show=False,
        tooltip="the TCP state diagram: each socket in its state, its last move lit with its cause",
    ),
    Binding(
        "f",
        "wait_timer",
        "Wait for a timer",
        id="wait",
        show=False,
        tooltip="the lab waits until the next pending timer of a lab socket fires (at most 10 s; the palette can wait 2 min)",
    ),
    Binding("a", "autoplay", "Autoplay", id="autoplay", tooltip="autoplay on/off: the scenario's steps, one per pause"),
    Binding("plus,equals_sign", "pace(0.5)", "Slower", id="slower", show=False, tooltip="autoplay slower"),
    Binding("minus", "pace(-0.5)", "Faster", id="faster", show=False, tooltip="autoplay faster"),
    Binding("b", "back", "Step back", id="back", show=False, tooltip="step back: the lab replays up to the step before"),
    Binding("g", "quiz_answers", "Quiz answers", id="quiz", tooltip="the quiz's answers so far"),  # shown while the quiz is on
    Binding(
        "ctrl+r", "stop_recording", "● REC stop", id="record", tooltip="stop writing the --record file"
    ),  # shown while --record writes
    Binding("question_mark", "dialog('help')", "Help", id="help", tooltip="this help"),
    Binding("q", "app.quit", "Quit", id="quit", tooltip="quit (the lab is stopped)"),
    *[
        Binding(
            str(i + 1), f"show({i})", p.capitalize(), id=f"show.{p}", show=False, tooltip=f"show the {p} panel (narrow terminals)"
        )
        for i, p in enumerate(PANELS)
    ],
    *[
        Binding(k, f"manual('client', '{c}')", f"client {d}", id=f"client.{c}", group=CLIENT_GROUP, tooltip=f"client: {d}")
        for k, c, d in CLIENT_KEYS
    ],
    *[
        Binding(k, f"manual('server', '{c}')", f"server {d}", id=f"server.{c}", group=SERVER_GROUP, tooltip=f"server: {d}")
        for k, c, d in SERVER_KEYS
    ],
]
