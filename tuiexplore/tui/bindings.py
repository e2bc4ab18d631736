"""The explorer's key map: panel tabs, scenario keys, and the manual keys of ``keys.py``."""

from __future__ import annotations

from textual.binding import Binding

from tuiexplore.tui.keys import CLIENT_KEYS, SERVER_KEYS

PANELS = ("actors", "packets", "kernel", "sockets", "diagram")
CLIENT_GROUP = Binding.Group("client", compact=True)
SERVER_GROUP = Binding.Group("server", compact=True)

EXPLORER_BINDINGS = [
    Binding("n,space", "next", "Next step", id="next"),
    Binding("r", "restart", "Restart", id="restart"),
    Binding("o", "open", "Open", id="open"),
    Binding("s", "seed", "Server loop", id="seed"),
    Binding("v", "dialog('verdict')", "Verdict", id="verdict", show=False),
    Binding("t", "dialog('table')", "tcp_close_state table", id="table", show=False),
    Binding("ctrl+e", "export", "Export", id="export", show=False),
    Binding("d", "dialog('ladder')", "Ladder diagram", id="ladder", show=False),
    Binding("m", "diagram", "State diagram", id="diagram", show=False),
    Binding("a", "autoplay", "Autoplay", id="autoplay"),
    Binding("plus,equals_sign", "pace(0.5)", "Slower", id="slower", show=False),
    Binding("minus", "pace(-0.5)", "Faster", id="faster", show=False),
    Binding("b", "back", "Step back", id="back", show=False),
    Binding("g", "quiz_answers", "Quiz answers", id="quiz"),  # shown while the quiz is on
    Binding("ctrl+r", "stop_recording", "● REC stop", id="record"),  # shown while --record writes
    Binding("question_mark", "dialog('help')", "Help", id="help"),
    Binding("q", "app.quit", "Quit", id="quit"),
    *[Binding(str(i + 1), f"show({i})", PANELS[i].capitalize(), id=f"show.{PANELS[i]}", show=False) for i in range(len(PANELS))],
    *[
        Binding(k, f"manual('client', '{c}')", f"client {d}", id=f"client.{c}", group=CLIENT_GROUP, tooltip=f"client: {d}")
        for k, c, d in CLIENT_KEYS
    ],
    *[
        Binding(k, f"manual('server', '{c}')", f"server {d}", id=f"server.{c}", group=SERVER_GROUP, tooltip=f"server: {d}")
        for k, c, d in SERVER_KEYS
    ],
]
