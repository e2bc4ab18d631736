"""The explorer's dialogs (verdict, table, ladder, help, open), the state diagram's toggle, step
back and export: actions mixed into :class:`tuiexplore.tui.explorer.ExplorerScreen`, reading the
state it keeps. (Textual looks an action up on the screen itself, so these are its methods; each
is a report view in a dialog, or a restart.)"""

from __future__ import annotations

import os
import time

from tuiexplore.reports import export
from tuiexplore.reports.details import table_text, verdict_text
from tuiexplore.reports.ladder import ladder
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.tui.actor_logs import ActorLogs
from tuiexplore.tui.bindings import PANELS
from tuiexplore.tui.diagram import toggle_diagram
from tuiexplore.tui.driver import Next, SavePcap
from tuiexplore.tui.screens import HelpScreen, ScenarioPicker, TextScreen
from tuiexplore.tui.widgets import ActorLog


class DialogActions:
    def action_back(self) -> None:
        """Step back: a fresh lab replays the scenario up to the step before the last one."""
        target = max(0, self.cursor - 1)
        self.restart()
        for _ in range(target):
            self.cursor += 1
            self.driver.submit(Next())

    def action_export(self) -> None:
        """A bundle for a write-up: timeline, Markdown transcript, this screen as SVG, and the pcap."""
        if self.info is None:
            return
        directory = os.path.abspath(time.strftime("tuiexplore-export-%Y%m%d-%H%M%S"))
        try:
            shoot = lambda path: self.app.save_screenshot(os.path.basename(path), os.path.dirname(path))  # noqa: E731
            export.write(directory, self.scenario, self.info, list(self.events), self.excerpt, shoot)
        except OSError as exc:
            self.notify(f"export failed: {exc.strerror}: {exc.filename}", severity="error", markup=False)
            return
        self.driver.submit(SavePcap(os.path.join(directory, "capture.pcap")))
        self.notify(f"exported to {directory}", markup=False, timeout=8)

    def action_ladder(self) -> None:
        lines = ladder(list(self.events), width=max(60, int(self.size.width * 0.9) - 12))  # inside the dialog
        self.app.push_screen(TextScreen("The exchange as a ladder diagram", "\n".join(lines)))

    def action_diagram(self) -> None:
        toggle_diagram(self, PANELS.index("diagram"))

    def action_table(self) -> None:
        title, body = table_text(self.excerpt)
        self.app.push_screen(TextScreen(f"{title} · {self.excerpt.origin}" if self.excerpt.table else title, "\n".join(body)))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_verdict(self) -> None:
        if self.last_verdict is not None:
            self.app.push_screen(TextScreen(*verdict_text(self.last_verdict, self.events, self.excerpt)))

    def action_open(self) -> None:
        async def chosen(scn: Scenario | None) -> None:
            if scn is None:
                return
            self.scenario = scn
            self.restart(scn)
            self.set_focus(None)  # focus on a removed panel would cut the app's keys off
            await self.query_one(ActorLogs).replace(self.actor_names())
            self.query(ActorLog).first().focus()
            self.update_status()

        self.app.push_screen(ScenarioPicker(), chosen)
