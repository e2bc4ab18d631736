"""The explorer: step real syscalls by hand and watch FIN or RST happen.

The app never touches the lab itself: a LabDriver thread owns it and posts typed messages
(LabStarted, StepStarted, LabEvents in batches, StepFinished). The app keeps its own copies of
what it was told (models, origins), so key dimming needs no shared state.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuiexplore import export
from tuiexplore.kernel.excerpt import Excerpt, bundled
from tuiexplore.kernel.notes import version_notes
from tuiexplore.kernel.source import SourceError, discover
from tuiexplore.lab.client import LabInfo
from tuiexplore.lab.predict import CLOSE_STATE, kernel_version
from tuiexplore.ladder import ladder
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.session import FdModel
from tuiexplore.timeline import (
    CountersEvent,
    EpollEvent,
    Event,
    NoteEvent,
    PacketEvent,
    StateEvent,
    StepEvent,
    VerdictEvent,
)
from tuiexplore.transcript import call_text
from tuiexplore.tui import theme as themes
from tuiexplore.tui.diagram import StateDiagram, toggle_diagram
from tuiexplore.tui.driver import LabDriver
from tuiexplore.tui.messages import Busy, KernelSourceFound, LabEvents, LabFailed, LabStarted, StepFinished, StepStarted
from tuiexplore.tui.screens import HelpScreen, ScenarioPicker, TextScreen
from tuiexplore.tui.status import StatusLine
from tuiexplore.tui.widgets import ActorLog, KernelView, PacketTable, SocketsStrip, VerdictLine, printable

PANELS = ("actors", "packets", "kernel", "sockets", "diagram")
HINT = "Press n or space to run the next step · ? for help · o to open another scenario · s to let the server run the seed loop"

# Manual keys: (actor, call, description); arguments are filled from what the actor holds.
CLIENT_KEYS = [
    ("k", "socket", "socket"),
    ("c", "connect", "connect"),
    ("e", "read", "read"),
    ("w", "write", "write"),
    ("h", "shutdown", "shutdown"),
    ("l", "linger0", "SO_LINGER 0"),
    ("x", "close", "close"),
    ("z", "exit", "exit"),
]
SERVER_KEYS = [
    ("A", "accept", "accept"),
    ("E", "epoll_wait", "epoll_wait"),
    ("R", "read", "read"),
    ("W", "write", "write"),
    ("X", "close", "close"),
]


CLIENT_GROUP = Binding.Group("client", compact=True)
SERVER_GROUP = Binding.Group("server", compact=True)


def manual_args(actor: str, call: str, m: FdModel) -> tuple[str, dict[str, Any]] | None:
    """The real call and its arguments for a manual key, or None when it makes no sense now."""
    conn = m.conn()
    if m.exited:
        return None
    if call == "socket":
        return "socket", {"as": m.fresh_name("sock")}
    if call == "connect":
        target = next((s for s in reversed(m.sockets) if s not in m.connected and s not in m.listeners), None)
        return ("connect", {"fd": target}) if target else None
    if call == "accept":
        lst = next(iter(sorted(m.listeners)), None)
        return ("accept", {"fd": lst, "as": m.fresh_name("conn")}) if lst else None
    if call == "epoll_wait":
        ep = m.latest("epoll")
        return ("epoll_wait", {"ep": ep, "timeout_ms": 0}) if ep else None
    if call == "exit":
        return "exit", {}
    if conn is None:
        return None
    if call in ("read", "write", "shutdown") and conn not in m.connected:
        return None
    return {
        "read": ("read", {"fd": conn}),
        "write": ("write", {"fd": conn, "data": "1" if actor == "server" else "x"}),
        "shutdown": ("shutdown", {"fd": conn, "how": "SHUT_WR"}),
        "linger0": ("setsockopt", {"fd": conn, "option": "SO_LINGER", "value": [1, 0]}),
        "close": ("close", {"fd": conn}),
    }.get(call)


class ExplorerApp(App):
    TITLE = "tuiexplore"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("n,space", "next", "Next step", id="next"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("o", "open", "Open", id="open"),
        Binding("s", "seed", "Server loop", id="seed"),
        Binding("v", "verdict", "Verdict", id="verdict", show=False),
        Binding("t", "table", "tcp_close_state table", id="table", show=False),
        Binding("ctrl+e", "export", "Export", id="export", show=False),
        Binding("d", "ladder", "Ladder diagram", id="ladder", show=False),
        Binding("m", "diagram", "State diagram", id="diagram", show=False),
        Binding("a", "autoplay", "Autoplay", id="autoplay"),
        Binding("plus,equals_sign", "pace(0.5)", "Slower", id="slower", show=False),
        Binding("minus", "pace(-0.5)", "Faster", id="faster", show=False),
        Binding("b", "back", "Step back", id="back", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        *[
            Binding(str(i + 1), f"show({i})", PANELS[i].capitalize(), id=f"show.{PANELS[i]}", show=False)
            for i in range(len(PANELS))
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

    shown: reactive[int] = reactive(0)

    def __init__(
        self,
        scenario: Scenario,
        theme: str | None = None,
        tracer: bool = True,
        excerpt: Excerpt | None = None,
        driver_factory: Callable[..., LabDriver] = LabDriver,
        watch_tty: bool = False,
        find_source: bool = False,
        kernel_src: str | None = None,
        autoplay: bool = False,
        pause_s: float = 2.0,
    ) -> None:
        super().__init__()
        self.CSS = themes.stylesheet()
        for t in themes.load_themes():
            self.register_theme(t)
        self.theme = themes.resolve(theme, list(self.available_themes))
        self.scenario = scenario
        self.excerpt = excerpt or bundled()
        self.tracer = tracer
        self.driver_factory = driver_factory
        self.driver: LabDriver | None = None
        self.watch_tty = watch_tty
        self.find_source, self.kernel_src = find_source, kernel_src
        self.autoplay, self.pause_s = autoplay, pause_s
        self._autoplay_timer = None
        self.narrations: dict[int, str] = {}  # step number -> what the scenario says about it
        self.info: LabInfo | None = None
        self.models: dict[str, FdModel] = {}
        self.origin: dict[int, str] = {}
        self.cursor = 0
        self.pending = 0
        self.events: list[Event] = []
        self.last_verdict: VerdictEvent | None = None
        self.error = ""
        self.seed = False  # the seed server loop, as last requested

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Static("", id="tabs", markup=False)
        with Container(id="panels"):
            with Horizontal(id="actors", classes="panel -shown"):
                for actor in self.actor_names():
                    yield ActorLog(actor, id=f"actor-{actor}")
            yield KernelView(self.excerpt, id="kernel")
            yield StateDiagram(self.actor_names(), id="diagram")  # after the kernel: it takes its grid cell
            yield PacketTable(id="packets")
            yield SocketsStrip(id="sockets")
        yield Static("", id="narration", markup=False)
        yield VerdictLine(id="verdict")
        yield Footer(compact=True)

    def actor_names(self) -> list[str]:
        names = self.scenario.actors or []
        return list(dict.fromkeys([*(n for n in ("server", "client") if n in names or not names), *names]))

    def on_mount(self) -> None:
        self.query_one("#verdict", VerdictLine).show_text(HINT)
        self.query_one("#narration", Static).display = False
        self.watch_shown(self.shown)
        self.update_status()
        self.driver = self.driver_factory(self, self.scenario, tracer=self.tracer)
        self.driver.start()
        if self.watch_tty:
            self.set_interval(5, self.check_terminal)
        if self.find_source:
            self.discover_source()

    @work(thread=True, exclusive=True, group="kernel-source", exit_on_error=False, description="find tcp.c")
    def discover_source(self) -> None:
        """The running kernel's own tcp.c, if this machine has it (a first tarball read takes ~10 s)."""
        ex = discover(self.kernel_src)
        self.post_message(KernelSourceFound(ex, version_notes(ex, platform.release())))

    @on(KernelSourceFound)
    def kernel_source_found(self, m: KernelSourceFound) -> None:
        self.excerpt = m.excerpt
        self.query_one(KernelView).set_excerpt(m.excerpt, m.notes)
        if m.excerpt.version and kernel_version(m.excerpt.version) == kernel_version(platform.release()):
            self.driver.submit("rule", m.excerpt.unread_rule)  # the running kernel's own source: its rule

    def check_terminal(self) -> None:
        # Over ssh a dropped connection leaves no TTY; exit instead of spinning (dolphie's trick).
        if not sys.stdin.isatty():
            self.exit()

    def on_unmount(self) -> None:
        if self.driver is not None:
            self.driver.stop()
            self.driver.join(timeout=10)

    def watch_shown(self, index: int) -> None:
        for i, name in enumerate(PANELS):
            for w in self.query(f"#{name}"):
                w.set_class(i == index, "-shown")
        tabs = "  ".join(
            f"[{i + 1} {n.capitalize()}]" if i == index else f" {i + 1} {n.capitalize()} " for i, n in enumerate(PANELS)
        )
        self.query_one("#tabs", Static).update(tabs, layout=False)

    def update_status(self) -> None:
        scn = self.scenario
        nxt = scn.steps[self.cursor] if self.cursor < len(scn.steps) else None
        parts = [f"{scn.name or 'scenario'}: {scn.title}"]
        parts.append(
            f"step {self.cursor}/{len(scn.steps)}"
            + (f" next: {nxt.actor} {call_text(nxt.call, nxt.args)}" if nxt else " (scenario done; manual keys still work)")
        )
        if self.info:
            mode = "root" if self.info.mode == "root" else "unprivileged"
            parts.append(
                f"kernel {self.info.kernel} · {mode} · tracepoints {'on' if self.info.tracepoints else 'off'}"
                f" · port {self.info.port}"
            )
        else:
            parts.append("starting the lab…")
        if self.pending:
            parts.append(f"working ({self.pending} queued)")
        if self.seed:
            parts.append("server loop ON")
        if self.autoplay:
            parts.append(f"autoplay every {self.pause_s:.1f} s (a pause, +/- pace, b back)")
        self.query_one("#status", StatusLine).show(parts)

    # -- messages from the lab ---------------------------------------------------------------
    @on(LabStarted)
    def lab_started(self, m: LabStarted) -> None:
        self.info = m.info
        self.update_status()

    @on(Busy)
    def busy(self, m: Busy) -> None:
        self.pending = m.pending
        self.update_status()
        if m.pending == 0:
            self.schedule_autoplay()

    @on(StepStarted)
    def step_started(self, m: StepStarted) -> None:
        self.origin[m.step] = m.origin
        if m.origin == "scenario":
            text = m.say or f"{m.actor} {m.call}()"
            if m.say:
                self.narrations[m.step] = m.say
            narration = self.query_one("#narration", Static)
            narration.update(Content(f"» step {m.step}: {printable(text)}"))
            narration.display = True

    @on(LabEvents)
    def lab_events(self, m: LabEvents) -> None:
        self.events.extend(m.events)
        packets = [e for e in m.events if isinstance(e, PacketEvent)]
        with self.batch_update():
            for e in m.events:
                self.show_event(e)
            if packets:
                self.query_one(PacketTable).add_packets(packets)
            self.query_one(StateDiagram).add(self.events, m.events)

    def actor_log(self, actor: str) -> ActorLog:
        found = self.query(f"#actor-{actor}")
        if found:
            return found.first(ActorLog)
        log = ActorLog(actor, id=f"actor-{actor}")
        self.query_one("#actors").mount(log)
        return log

    def show_event(self, e: Event) -> None:
        if isinstance(e, StepEvent):
            log = self.actor_log(e.actor)
            log.add_step(e, self.origin.get(e.step, "scenario"))
            if e.step in self.narrations and self.origin.get(e.step) == "scenario":
                log.write(Text(f"  » {printable(self.narrations[e.step])}", style="italic"))
        elif isinstance(e, EpollEvent):
            self.actor_log(e.actor).add_epoll(e)
        elif isinstance(e, StateEvent) and e.actor != "?":
            text = f"state {e.fd}: {e.old} → {e.new}"
            if e.old == "CLOSE" and e.new in ("FIN_WAIT2", "TIME_WAIT"):
                # tcp_time_wait() traces the full socket's X -> CLOSE; a mini-socket carries on.
                text = f"state {e.fd}: handed over to a timewait mini-socket in {e.new}"
            self.actor_log(e.actor).add_note(NoteEvent(e.t, "info", text))
        elif isinstance(e, VerdictEvent):
            self.last_verdict = e
            self.query_one(VerdictLine).show_verdict(e)
            taken = [e.branch] if e.branch == "listen_stop" else ["drain", e.branch]
            self.query_one(KernelView).mark(taken=taken, note=f"step {e.step}: {e.branch} ({e.observed})")
        elif isinstance(e, NoteEvent):
            if e.level in ("warn", "error"):
                self.notify(printable(e.text), severity="warning" if e.level == "warn" else "error", markup=False)
            elif e.step is None:
                self.notify(printable(e.text), markup=False, timeout=6)
            else:
                step = next((s for s in reversed(self.events) if isinstance(s, StepEvent) and s.step == e.step), None)
                if step:
                    self.actor_log(step.actor).add_note(e)

    @on(StepFinished)
    def step_finished(self, m: StepFinished) -> None:
        self.models, self.cursor = m.models, m.cursor
        self.origin.update(m.origin)
        self.query_one(SocketsStrip).show(m.sockets, m.names)
        if m.prediction:
            p = m.prediction[0]
            nxt = self.scenario.steps[self.cursor]
            self.query_one(KernelView).mark(predicted=p["path"], note=f"next: {p['branch']} predicted ({p['outcome']})")
            if m.done is None or not self.last_verdict or self.last_verdict.step != m.done.step:
                self.query_one(VerdictLine).show_text(
                    f"next: {nxt.actor} {call_text(nxt.call, nxt.args)} — predicted {p['outcome']} [{p['branch']}]: {p['text']}"
                )
        self.update_status()
        self.refresh_keys()
        self.schedule_autoplay()

    def schedule_autoplay(self) -> None:
        if self._autoplay_timer is not None:
            self._autoplay_timer.stop()
            self._autoplay_timer = None
        if self.autoplay and self.pending == 0 and self.info is not None:
            if self.cursor < len(self.scenario.steps):
                self._autoplay_timer = self.set_timer(self.pause_s, self.action_next)
            else:
                self.autoplay = False
                self.notify("autoplay: the scenario is done (r restarts, a plays again)", timeout=6)
                self.update_status()

    def action_autoplay(self) -> None:
        self.autoplay = not self.autoplay
        if self.autoplay and self.cursor >= len(self.scenario.steps):
            self.clear_panels()
            self.driver.submit("restart")
        self.update_status()
        self.schedule_autoplay()

    def action_pace(self, delta: float) -> None:
        self.pause_s = max(0.5, min(30.0, self.pause_s + delta))
        self.update_status()
        self.schedule_autoplay()

    def action_back(self) -> None:
        """Step back: a fresh lab replays the scenario up to the step before the last one."""
        target = max(0, self.cursor - 1)
        self.clear_panels()
        self.driver.submit("restart")
        for _ in range(target):
            self.cursor += 1
            self.driver.submit("next")

    def refresh_keys(self) -> None:
        """Refresh the footer only when a key's state changed: a refresh recomposes the Footer,
        which costs a full layout (tens of ms on a 2-core machine)."""
        state = tuple(self.check_action(b.action.split("(")[0], _params(b.action)) for b in self.BINDINGS)
        if state != getattr(self, "_key_state", None):
            self._key_state = state
            self.refresh_bindings()

    @on(LabFailed)
    def lab_failed(self, m: LabFailed) -> None:
        self.error = m.text
        self.query_one(VerdictLine).show_text(f"The lab failed: {m.text}  (r restarts it)")
        self.notify(printable(m.text), severity="error", markup=False, timeout=10)

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.cursor < len(self.scenario.steps) else None
        if action == "manual":
            actor, call = parameters
            return True if manual_args(actor, call, self.models.get(actor, FdModel())) else None
        if action == "verdict":
            return True if self.last_verdict else None
        return True

    def action_next(self) -> None:
        if self.cursor < len(self.scenario.steps):
            self.cursor += 1  # optimistic: repeated presses queue the following steps
            self.driver.submit("next")

    def action_manual(self, actor: str, call: str) -> None:
        real = manual_args(actor, call, self.models.get(actor, FdModel()))
        if real is not None:
            self.driver.submit("manual", actor, *real)

    def action_restart(self) -> None:
        self.clear_panels()
        self.driver.submit("restart")

    def clear_panels(self) -> None:
        self.events.clear()
        self.origin.clear()
        self.models, self.cursor, self.last_verdict = {}, 0, None
        for log in self.query(ActorLog):
            log.clear()
        self.query_one(PacketTable).clear()
        self.query_one(PacketTable).packets.clear()
        self.query_one(SocketsStrip).clear()
        self.query_one(StateDiagram).show(self.events, self.actor_names())
        self.query_one(KernelView).mark()
        self.query_one(VerdictLine).show_text(HINT)
        self.narrations.clear()
        self.query_one("#narration", Static).display = False
        self.seed = False
        self.refresh_keys()

    def action_open(self) -> None:
        async def chosen(scn: Scenario | None) -> None:
            if scn is None:
                return
            self.scenario = scn
            self.clear_panels()
            actors = self.query_one("#actors")
            self.screen.set_focus(None)  # focus on a removed panel would cut the app's keys off
            await actors.remove_children()  # the new panels reuse the ids: wait for the old ones to go
            await actors.mount_all([ActorLog(actor, id=f"actor-{actor}") for actor in self.actor_names()])
            self.query(ActorLog).first().focus()
            self.driver.submit("load", scn)
            self.update_status()

        self.push_screen(ScenarioPicker(), chosen)

    def action_seed(self) -> None:
        self.seed = not self.seed
        self.driver.submit("seed", self.seed)
        self.notify("seed server loop " + ("on: step the client, the server reacts" if self.seed else "off"), timeout=4)
        self.update_status()

    def action_export(self) -> None:
        """A bundle for a write-up: timeline, Markdown transcript, this screen as SVG, and the pcap."""
        if self.info is None:
            return
        directory = os.path.abspath(time.strftime("tuiexplore-export-%Y%m%d-%H%M%S"))
        try:
            export.write_common(directory, self.scenario, self.info, list(self.events), self.excerpt)
            self.save_screenshot("screen.svg", directory)
        except OSError as exc:
            self.notify(f"export failed: {exc.strerror}: {exc.filename}", severity="error", markup=False)
            return
        self.driver.submit("pcap", os.path.join(directory, "capture.pcap"))
        self.notify(f"exported to {directory}", markup=False, timeout=8)

    def action_ladder(self) -> None:
        lines = ladder(list(self.events), width=max(60, int(self.size.width * 0.9) - 12))  # inside the dialog
        self.push_screen(TextScreen("The exchange as a ladder diagram", "\n".join(lines)))

    def action_table(self) -> None:
        ex = self.excerpt
        if ex.table:
            body = "\n".join(f"{ex.table_first_line + i:>5}  {line.expandtabs(4)}" for i, line in enumerate(ex.table))
            title = f"tcp_close_state() and its table · {ex.origin}"
        else:
            body = "No kernel source with tcp_close_state() was found; tuiexplore's model of its table:\n\n" + "\n".join(
                f"  {old:<12} -> {new:<10} {'send FIN' if fin else ''}" for old, (new, fin) in CLOSE_STATE.items()
            )
            title = "tcp_close_state() (model)"
        self.push_screen(TextScreen(title, body))

    def action_diagram(self) -> None:
        toggle_diagram(self, PANELS.index("diagram"))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_show(self, index: int) -> None:
        self.shown = index
        target = self.query_one(f"#{PANELS[index]}")
        (target.query(ActorLog).first() if PANELS[index] == "actors" else target).focus()

    def action_verdict(self) -> None:
        v = self.last_verdict
        if v is None:
            return
        lines = [
            v.explanation,
            "",
            f"predicted {v.predicted} via branch {v.branch}; observed {v.observed}; {'agree' if v.agree else 'DISAGREE'}",
            "",
            "Packets of this step:",
        ]
        lines += [
            f"  #{p.index} {p.src} > {p.dst}: {p.tcpdump()}"
            for p in self.events
            if isinstance(p, PacketEvent) and p.step == v.step
        ]
        lines += ["", "State changes:"] + [
            f"  {s.actor} {s.fd}: {s.old} -> {s.new} ({s.source})"
            for s in self.events
            if isinstance(s, StateEvent) and s.step == v.step
        ]
        lines += ["", "Counters:"] + [
            f"  {k} {d:+d}" for c in self.events if isinstance(c, CountersEvent) and c.step == v.step for k, d in c.deltas.items()
        ]
        ex = self.excerpt
        taken = [v.branch] if v.branch == "listen_stop" else ["drain", v.branch]
        lines += ["", f"Source ({ex.origin}):"]
        for n in sorted({n for b in taken for n in ex.branches.get(b, [])}):
            lines.append(f"  {n}: {ex.lines[n - ex.first_line].strip()}")
        self.push_screen(TextScreen(f"Verdict of step {v.step}", "\n".join(lines)))

    @on(PacketTable.Selected)
    def packet_selected(self, event: PacketTable.Selected) -> None:
        p = event.packet
        from scapy.layers import inet  # noqa: F401 - binds IP/TCP under Ether for the dissection
        from scapy.layers.l2 import Ether

        dissection = Ether(p.raw).show(dump=True)
        why = [f"#{p.index} {p.src} > {p.dst} {p.sport} > {p.dport}: {p.tcpdump()}"]
        step = next((e for e in self.events if isinstance(e, StepEvent) and e.step == p.step), None)
        if step:
            why.append(f"Sent during step {step.step}: {step.actor} {call_text(step.call, step.args)}")
        verdict = next((e for e in self.events if isinstance(e, VerdictEvent) and e.step == p.step), None)
        if verdict and "R" in p.flags or verdict and "F" in p.flags:
            why.append(f"Kernel branch: {verdict.branch} — {verdict.explanation}")
        self.push_screen(TextScreen(f"Packet #{p.index}", "\n".join(why) + "\n\n" + dissection))

    # -- command palette: any call with arguments --------------------------------------------
    def get_system_commands(self, screen: Screen):  # noqa: ANN201
        yield from super().get_system_commands(screen)
        yield SystemCommand("TCP state diagram", "each socket in its state, its last move lit (m)", self.action_diagram)
        for actor in self.actor_names():
            m = self.models.get(actor, FdModel())
            for title, call, args in palette_calls(actor, m):
                yield SystemCommand(
                    f"{actor}: {title}",
                    f"run {call} in {actor} now",
                    lambda a=actor, c=call, g=args: self.driver.submit("manual", a, c, g),
                )


def palette_calls(actor: str, m: FdModel) -> list[tuple[str, str, dict[str, Any]]]:
    """Every call this actor could make now, with sensible arguments, for the command palette."""
    out: list[tuple[str, str, dict[str, Any]]] = [
        ("socket()", "socket", {"as": m.fresh_name("sock")}),
        ("epoll_create()", "epoll_create", {"as": m.fresh_name("ep")}),
        ("exit()", "exit", {}),
        ("sleep 200 ms", "sleep", {"ms": 200}),
    ]
    for fd in m.sockets:
        out += [
            (f"bind({fd})", "bind", {"fd": fd}),
            (f"listen({fd})", "listen", {"fd": fd}),
            (f"connect({fd})", "connect", {"fd": fd}),
            (f"connect({fd}, nonblocking)", "connect", {"fd": fd, "nonblocking": True}),
            (f"connect({fd}, AF_UNSPEC) — disconnect", "connect", {"fd": fd, "family": "AF_UNSPEC"}),
            (f"accept({fd})", "accept", {"fd": fd, "as": m.fresh_name("conn")}),
            (f"read({fd})", "read", {"fd": fd}),
            (f"read({fd}, 1 byte)", "read", {"fd": fd, "size": 1}),
            (f'write({fd}, "hello")', "write", {"fd": fd, "data": "hello"}),
            (f"write({fd}, 100000 bytes)", "write", {"fd": fd, "size": 100000}),
            (f"close({fd})", "close", {"fd": fd}),
        ]
        out += [(f"shutdown({fd}, {how})", "shutdown", {"fd": fd, "how": how}) for how in ("SHUT_RD", "SHUT_WR", "SHUT_RDWR")]
        out += [
            (f"setsockopt({fd}, SO_LINGER, {v})", "setsockopt", {"fd": fd, "option": "SO_LINGER", "value": v})
            for v in ([1, 0], [1, 1], [1, 5], [0, 0])
        ]
        out += [
            (f"setsockopt({fd}, TCP_LINGER2, -1)", "setsockopt", {"fd": fd, "option": "TCP_LINGER2", "value": -1}),
            (f"setsockopt({fd}, SO_RCVBUF, 4096)", "setsockopt", {"fd": fd, "option": "SO_RCVBUF", "value": 4096}),
            (f"setsockopt({fd}, SO_REUSEADDR, 1)", "setsockopt", {"fd": fd, "option": "SO_REUSEADDR", "value": 1}),
        ]
        for opt in ("TCP_NODELAY", "SO_KEEPALIVE"):
            out.append((f"setsockopt({fd}, {opt}, 1)", "setsockopt", {"fd": fd, "option": opt, "value": 1}))
    for ep in m.epolls:
        out += [
            (f"epoll_wait({ep})", "epoll_wait", {"ep": ep, "timeout_ms": 0}),
            (f"epoll_wait({ep}, 1 s)", "epoll_wait", {"ep": ep, "timeout_ms": 1000}),
        ]
        out += [
            (
                f"epoll_ctl({ep}, ADD, {fd}, IN|OUT|RDHUP|HUP)",
                "epoll_ctl",
                {"ep": ep, "op": "ADD", "fd": fd, "events": ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP"]},
            )
            for fd in m.sockets
        ]
    return out


def _params(action: str) -> tuple[object, ...]:
    """The literal arguments of a binding's action string, e.g. "manual('client', 'read')"."""
    if "(" not in action:
        return ()
    import ast

    args = ast.literal_eval("(" + action.split("(", 1)[1].rstrip(")") + ",)")
    return tuple(args)


def make_app(scenario: Scenario, theme: str | None = None, tracer: bool = True, **kw: Any) -> ExplorerApp:
    """The one factory the CLI and the tests use."""
    return ExplorerApp(scenario, theme=theme, tracer=tracer, **kw)


def run_app(
    scenario: Scenario,
    theme: str | None = None,
    tracer: bool = True,
    kernel_src: str | None = None,
    autoplay: bool = False,
    pause_s: float = 2.0,
) -> int:
    if sys.stdout.isatty():
        # An exported COLUMNS/LINES would override the real terminal size in Textual.
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
    try:
        if kernel_src:
            discover(kernel_src)  # an unusable --kernel-src is an input error, said before the screen opens
        app = make_app(
            scenario,
            theme=theme,
            tracer=tracer,
            # Under textual-serve (TEXTUAL_DRIVER set) the browser is the terminal: nothing to watch.
            watch_tty="TEXTUAL_DRIVER" not in os.environ,
            find_source=True,
            kernel_src=kernel_src,
            autoplay=autoplay,
            pause_s=pause_s,
        )
    except (ValueError, SourceError) as exc:
        print(f"tuiexplore: {exc}", file=sys.stderr)
        return 2
    app.run()
    if app.error:
        print(f"tuiexplore: {app.error}", file=sys.stderr)
        return 1
    return 0
