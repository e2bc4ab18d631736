"""The user's config.toml: a rebound key moves the footer, the help and the action; a file that
cannot be used is one line and the defaults, never a traceback."""

import asyncio
import os

import pytest
from conftest import cli
from pilot_wait import until
from textual.widgets import Markdown
from textual.widgets._footer import FooterKey
from tui_fakes import EVENTS, INFO, SOCKETS

from tuiexplore import config
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import StepEvent
from tuiexplore.tui.app import make_app
from tuiexplore.tui.driver import Next
from tuiexplore.tui.replay import ReplayDriver
from tuiexplore.tui.screens import HelpScreen
from tuiexplore.tui.theme import DEFAULT
from tuiexplore.tui.widgets import VerdictLine


def write(tmp_path, text: str) -> dict[str, str]:
    (tmp_path / "tuiexplore").mkdir(exist_ok=True)
    (tmp_path / "tuiexplore" / "config.toml").write_text(text)
    return {"XDG_CONFIG_HOME": str(tmp_path)}


class Recording(ReplayDriver):
    """The seed's first three steps replayed; what the keys ask for is recorded, not run."""

    submitted: list = []

    def __init__(self, target, scenario, tracer=True):
        early = [e for e in EVENTS if (getattr(e, "step", None) or 0) <= 3]
        assert any(isinstance(e, StepEvent) and e.step == 3 for e in early)
        super().__init__(target, scenario, INFO, early, SOCKETS, {})
        Recording.submitted = []

    def submit(self, req):
        Recording.submitted.append(req)


async def footer_keys(pilot) -> dict[str, str]:
    """The footer's keys once it has composed (after the start-up burst: footer.KeysFooter)."""
    for _ in range(200):
        if keys := {k.description: k.key_display for k in pilot.app.screen.query(FooterKey)}:
            return keys
        await pilot.pause(0.05)
    raise AssertionError("the footer never showed its keys")


def help_text(app) -> str:
    assert isinstance(app.screen, HelpScreen)
    return app.screen.query_one(Markdown).source


def test_rebound_key_moves_footer_help_and_action(tmp_path):
    settings = config.load(write(tmp_path, '[keymap]\nnext = "j"\nhelp = "f1"\n'))
    assert settings.problems == () and settings.keymap == {"next": "j", "help": "f1"}

    async def body():
        app = make_app(load("seed-rst"), driver_factory=Recording, settings=settings)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            keys = await footer_keys(pilot)
            assert keys["Next step"] == "j" and keys["Help"] == "f1", keys
            assert keys["Restart"] == "r"  # what the file does not name keeps its key
            hint = str(app.screen.query_one(VerdictLine).render())
            assert hint.startswith("Press j to run the next step · f1 for help · o to open"), hint
            await pilot.press("n", "space")
            await pilot.pause(0.1)
            assert Recording.submitted == []  # the default keys no longer step
            await pilot.press("j")
            await pilot.pause(0.1)
            assert [type(r) for r in Recording.submitted] == [Next]
            await pilot.press("question_mark")
            await pilot.pause(0.1)
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("f1")
            await pilot.pause(0.3)
            text = help_text(app)
            assert "| `j` | run the scenario's next step |" in text
            assert "| `f1` | this help |" in text
            assert "| `r` | restart the lab fresh (same scenario) |" in text
            assert "`n`" not in text

    asyncio.run(body())


def test_broken_config_is_one_line_and_the_defaults(tmp_path):
    env = write(tmp_path, 'theme = "light\n[keymap]\nnext = "j"\n')
    settings = config.load(env)
    assert len(settings.problems) == 1 and "config.toml" in settings.problems[0] and "using the defaults" in settings.problems[0]
    assert "\n" not in settings.problems[0]

    async def body():
        app = make_app(load("seed-rst"), driver_factory=Recording, settings=settings)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            assert app.theme == DEFAULT
            assert (await footer_keys(pilot))["Next step"] == "n"
            said = [n.message for n in app._notifications]
            assert said == [settings.problems[0]]
            await pilot.press("n")
            await pilot.pause(0.1)
            assert [type(r) for r in Recording.submitted] == [Next]

    asyncio.run(body())

    proc = cli("config", "show", env={**os.environ, **env})
    assert proc.returncode == 0 and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "using the defaults" in proc.stderr
    assert '"next" = "n,space"' in proc.stdout and f"theme: default: {DEFAULT}" in proc.stdout


@pytest.mark.parametrize(
    "text,why",
    [
        ("colour = 'red'\n", "unknown setting 'colour'"),
        ("theme = 3\n", "theme: must be a non-empty string"),
        ("keymap = 'j'\n", "keymap: must be a table"),
        ("[keymap]\nnext = 1\n", "keymap: 'next': keys must be a string"),
        ('[keymap]\nnext = "\\u001b[2J"\n', "keymap: 'next': keys must be a string"),
        ("[watch]\ncolumns = 'all'\n", "watch: columns must be a list"),
        ("[watch]\nrows = 3\n", "watch: unknown setting 'rows'"),
        (b"theme = '\xff'\n", "not UTF-8"),
        ("x" * (config.MAX_BYTES + 1), "larger than 64 KiB"),
    ],
)
def test_each_unusable_file_is_one_line(tmp_path, text, why):
    d = tmp_path / "tuiexplore"
    d.mkdir()
    (d / "config.toml").write_bytes(text if isinstance(text, bytes) else text.encode())
    settings = config.load({"XDG_CONFIG_HOME": str(tmp_path)})
    assert settings.keymap == {} and settings.theme is None
    assert len(settings.problems) == 1 and why in settings.problems[0] and "\n" not in settings.problems[0], settings.problems


def test_values_no_app_can_use_are_named_by_config_show(tmp_path):
    env = write(tmp_path, 'theme = "mauve"\n[keymap]\nnxt = "j"\n[watch]\ncolumns = ["#", "colour"]\n')
    proc = cli("config", "show", env={**os.environ, **env})
    lines = proc.stderr.splitlines()
    assert proc.returncode == 0 and len(lines) == 3, proc.stderr
    assert 'keymap: no binding "nxt"' in lines[0] and "unknown theme 'mauve'" in lines[1] and "no column 'colour'" in lines[2]
    assert 'theme = "mauve"' in proc.stdout  # shown as written; the apps use the default


def test_config_path_follows_xdg(tmp_path):
    proc = cli("config", "path", env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.strip() == str(tmp_path / "tuiexplore" / "config.toml")
    home = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"} | {"HOME": str(tmp_path)}
    proc = cli("config", "path", env=home)
    assert proc.stdout.strip() == str(tmp_path / ".config" / "tuiexplore" / "config.toml")


def test_a_missing_file_is_the_defaults_without_a_word(tmp_path):
    assert config.load({"XDG_CONFIG_HOME": str(tmp_path)}) == config.Settings()


def watch_app(settings):
    from pathlib import Path

    from tuiexplore.tui.watch_app import WatchApp
    from tuiexplore.watch.engine import Options, Watch

    watch = Watch(Options(read=str(Path(__file__).parent / "data" / "watch-world.pcap")))
    watch.start()
    return WatchApp(watch, settings=settings)


def test_watch_shows_the_columns_the_file_names(tmp_path):
    from tuiexplore.tui.watch_widgets import DEFAULT_COLUMNS, SORTS, ConnTable

    settings = config.load(write(tmp_path, '[watch]\ncolumns = ["ended", "#", "process"]\n'))

    async def body():
        app = watch_app(settings)
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(ConnTable)
            await until(pilot, lambda: app._done and len(table.shown) == 6, what="the capture's six connections")
            app.refresh_view()
            await pilot.pause()
            assert [str(c.label) for c in table.columns.values()] == ["ended", "#", "process"]
            assert len(table.get_row_at(0)) == 3 and len(table.shown) == 6
            await pilot.press("s")
            assert table.sort_by == "process"  # sorting goes over the shown columns, in their order
            await pilot.press("s")
            assert table.sort_by == "ended"
            await table.remove()  # as when the app closes: its refresh timer can still fire
            app.refresh_view()  # was NoMatches (a traceback on the way out, 1 run in ~8 of this test)

    asyncio.run(body())

    settings = config.load(write(tmp_path, '[watch]\ncolumns = ["#", "colour"]\n'))

    async def unknown():
        app = watch_app(settings)
        async with app.run_test(size=(120, 40)):
            table = app.query_one(ConnTable)
            assert [str(c.label) for c in table.columns.values()] == DEFAULT_COLUMNS
            assert [n.message for n in app._notifications] == [
                f"{settings.path}: watch: no column 'colour' (the columns: {', '.join(SORTS)}); showing the default ones"
            ]

    asyncio.run(unknown())


def test_the_files_scenario_is_what_the_explorer_opens(tmp_path, monkeypatch, capsys):
    from tuiexplore import cli_config as cli_module

    monkeypatch.setenv("XDG_CONFIG_HOME", write(tmp_path, 'scenario = "linger-zero"\n')["XDG_CONFIG_HOME"])
    cli_module.user_settings.cache_clear()
    assert cli_module.default_scenario(None) == "linger-zero"
    assert cli_module.default_scenario("half-close") == "half-close"  # the command line wins
    write(tmp_path, 'scenario = "no-such-scenario"\n')
    cli_module.user_settings.cache_clear()
    assert cli_module.default_scenario(None) == "seed-rst"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "scenario:" in err[0] and "opening seed-rst" in err[0], err
    cli_module.user_settings.cache_clear()


def test_the_files_kernel_src_is_where_the_source_is_looked_for(tmp_path):
    from test_kernel import write_tree

    tree = tmp_path / "linux-6.1.99"
    write_tree(tree, "split")
    env = {**os.environ, **write(tmp_path, f'kernel_src = "{tree}"\n'), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("TUIEXPLORE_KERNEL_SRC", None)
    proc = cli("kernel", env=env)
    assert proc.returncode == 0 and f"{tree} ($TUIEXPLORE_KERNEL_SRC)" in proc.stdout.splitlines()[0], proc.stdout[:300]
    env.update(write(tmp_path, 'kernel_src = "/nonexistent/linux"\n'))
    proc = cli("kernel", env=env)
    assert (
        proc.returncode == 0 and proc.stderr.count("\n") == 1 and "kernel_src: '/nonexistent/linux': no such file" in proc.stderr
    )


def test_a_config_dir_nobody_may_search_is_one_line(tmp_path):
    """As a user who may not even look into $XDG_CONFIG_HOME: one line and the defaults (it was a
    traceback: Path.exists() raises PermissionError)."""
    import subprocess
    import sys

    from conftest import ROOT

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    os.chmod(tmp_path, 0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/tmp", "XDG_CONFIG_HOME": str(private)}
    cmd = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable, "-m", "tuiexplore"]
    proc = subprocess.run([*cmd, "config", "show"], capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert proc.returncode == 0 and proc.stderr.count("\n") == 1, proc.stderr
    assert "Permission denied" in proc.stderr and "using the defaults" in proc.stderr and "Traceback" not in proc.stderr
    assert '"next" = "n,space"' in proc.stdout


def test_serve_still_refuses_a_scenario_that_does_not_load():
    proc = cli("serve", "no-such-scenario", "--port", "1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no-such-scenario" in proc.stderr, proc.stderr


def test_the_step_screens_help_and_hint_follow_the_keymap():
    from textual.app import App

    from tuiexplore.tui.keyhelp import key_table, spoken
    from tuiexplore.tui.step_screen import HINT, STEP_BINDINGS

    async def body():
        app = App()
        app.set_keymap({"step.next": "j", "step.go": "ctrl+g"})
        async with app.run_test():
            rows = key_table(app, STEP_BINDINGS)
            assert "| `j` | run the selected program's parked call |" in rows
            assert any(r.startswith("| `^g` |") for r in rows), rows
            hint = spoken(app, STEP_BINDINGS, HINT)
            assert hint.startswith("j runs the selected program's parked call") and "^g all to the next" in hint, hint

    asyncio.run(body())
