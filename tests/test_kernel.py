"""The kernel panel's source: discovery, extraction with real line numbers, and branch location
on every function shape from 4.9 to 6.18 (synthetic tcp.c files built here), plus tarballs."""

import io
import os
import tarfile

import pytest
from conftest import cli

from tuiexplore.kernel.excerpt import bundled, extract
from tuiexplore.kernel.notes import version_notes
from tuiexplore.kernel.source import candidates, discover

# Noise a parser must survive: a prototype, braces in comments and strings, an #ifdef'd decoy.
PREAMBLE = [
    "// SPDX-License-Identifier: GPL-2.0-or-later",
    "/* tcp_close() { is described here } but not defined */",
    "void tcp_close(struct sock *sk, long timeout);",
    'static const char *msg = "tcp_close(struct sock *sk) { nope }";',
    "#ifdef CONFIG_SOMETHING_ELSE",
    "static void tcp_close_helper(struct sock *sk) { if (sk) { return; } }",
    "#endif",
    "",
]


def shape(kind: str) -> tuple[str, dict[str, int], tuple[int, int]]:
    """A tcp.c in one of the historical shapes; returns (text, expected branch lines, (first, last))."""
    lines: list[str] = list(PREAMBLE) + [f"static int filler_{i};" for i in range(40)]
    want: dict[str, int] = {}

    def add(text: str, mark: str | None = None) -> None:
        lines.append(text)
        if mark and mark not in want:
            want[mark] = len(lines)

    reasons = kind in ("reasons", "copied_seq")
    reason = (lambda r: f", {r}") if reasons else (lambda r: "")
    add("static const unsigned char new_state[16] = {")
    add("  [TCP_ESTABLISHED] = TCP_FIN_WAIT1 | TCP_ACTION_FIN,")
    add("};")
    add("static int tcp_close_state(struct sock *sk)")
    add("{")
    add("\treturn new_state[sk->sk_state] & TCP_ACTION_FIN;")
    add("}")
    add("")
    name = "tcp_close" if kind == "single" else "__tcp_close"
    add(f"void {name}(struct sock *sk, long timeout)")
    first = len(lines)
    add("{")
    add("\tstruct sk_buff *skb;")
    add("\tbool data_was_unread = false;" if kind == "copied_seq" else "\tint data_was_unread = 0;")
    if kind == "single":
        add("\tlock_sock(sk);")
    add("\tsk->sk_shutdown = SHUTDOWN_MASK;", "shutdown_mask")
    add("\tif (sk->sk_state == TCP_LISTEN) {", "listen_stop")
    add("\t\ttcp_set_state(sk, TCP_CLOSE);")
    add("\t\t/* Special case. { brace in a comment */")
    add("\t\tinet_csk_listen_stop(sk);")
    add("\t\tgoto adjudge_to_death;")
    add("\t}")
    if kind == "copied_seq":
        add("\twhile ((skb = skb_peek(&sk->sk_receive_queue)) != NULL) {", "drain")
        add("\t\tu32 end_seq = TCP_SKB_CB(skb)->end_seq;")
        add("\t\tif (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN)")
        add("\t\t\tend_seq--;")
        add("\t\tif (after(end_seq, tcp_sk(sk)->copied_seq))")
        add("\t\t\tdata_was_unread = true;")
        add("\t\ttcp_eat_recv_skb(sk, skb);")
    else:
        add("\twhile ((skb = __skb_dequeue(&sk->sk_receive_queue)) != NULL) {", "drain")
        add("\t\tu32 len = TCP_SKB_CB(skb)->end_seq - TCP_SKB_CB(skb)->seq;")
        add("\t\tif (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN)")
        add("\t\t\tlen--;")
        add("\t\tdata_was_unread += len;")
        add("\t\t__kfree_skb(skb);")
    add("\t}")
    add("\t/* If socket has been already reset (e.g. in tcp_reset()) - kill it. */")
    add("\tif (sk->sk_state == TCP_CLOSE)", "already_closed")
    add("\t\tgoto adjudge_to_death;")
    add("\tif (unlikely(tcp_sk(sk)->repair)) {", "repair")
    add("\t\tsk->sk_prot->disconnect(sk, 0);")
    add("\t} else if (data_was_unread) {", "data_was_unread")
    add("\t\tNET_INC_STATS(sock_net(sk), LINUX_MIB_TCPABORTONCLOSE);")
    add("\t\ttcp_set_state(sk, TCP_CLOSE);")
    add(f"\t\ttcp_send_active_reset(sk, sk->sk_allocation{reason('SK_RST_REASON_TCP_ABORT_ON_CLOSE')});")
    add("\t} else if (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime) {", "linger_zero")
    add("\t\tsk->sk_prot->disconnect(sk, 0);")
    add("\t\tNET_INC_STATS(sock_net(sk), LINUX_MIB_TCPABORTONDATA);")
    add("\t} else if (tcp_close_state(sk)) {", "fin")
    add("\t\t/* We FIN if the application ate all the data */")
    add("\t\ttcp_send_fin(sk);")
    add("\t}")
    add("\tsk_stream_wait_close(sk, timeout);", "wait_close")
    add("adjudge_to_death:", "orphan")
    add("\tsock_orphan(sk);")
    add("#ifdef CONFIG_DEBUG_NOT_SET")
    add('\tpr_debug("} unbalanced in a string {");')
    add("#endif")
    add("\tif (sk->sk_state == TCP_FIN_WAIT2) {")
    add("\t\tstruct tcp_sock *tp = tcp_sk(sk);")
    add("\t\tif (tp->linger2 < 0) {", "linger2_abort")
    add("\t\t\ttcp_set_state(sk, TCP_CLOSE);")
    add(f"\t\t\ttcp_send_active_reset(sk, GFP_ATOMIC{reason('SK_RST_REASON_TCP_ABORT_ON_LINGER')});")
    add("\t\t\t__NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPABORTONLINGER);")
    add("\t\t} else {")
    add("\t\t\ttcp_time_wait(sk, TCP_FIN_WAIT2, tmo);", "fin_wait2_timewait")
    add("\t\t}")
    add("\t}")
    add("\tif (sk->sk_state != TCP_CLOSE && tcp_check_oom(sk, 0)) {", "oom")
    add(f"\t\ttcp_send_active_reset(sk, GFP_ATOMIC{reason('SK_RST_REASON_TCP_ABORT_ON_MEMORY')});")
    add("\t\t__NET_INC_STATS(sock_net(sk), LINUX_MIB_TCPABORTONMEMORY);")
    add("\t}")
    add("}")
    last = len(lines)
    if kind != "single":
        add("")
        add("void tcp_close(struct sock *sk, long timeout)")
        add("{")
        add("\tlock_sock(sk);")
        add("\t__tcp_close(sk, timeout);")
        add("\trelease_sock(sk);")
        add("}")
        last = len(lines)
    add("EXPORT_SYMBOL(tcp_close);")
    return "\n".join(lines) + "\n", want, (first, last)


SHAPES = ["single", "split", "reasons", "copied_seq"]


@pytest.mark.parametrize("kind", SHAPES)
def test_extraction_and_branches_on_every_shape(kind):
    text, want, (first, last) = shape(kind)
    ex = extract(text, "x", "synthetic")
    assert (ex.first_line, ex.last_line) == (first, last)
    assert ex.lines[0].startswith("void tcp_close" if kind == "single" else "void __tcp_close")
    for branch, line in want.items():
        assert ex.branches[branch][0] == line, (branch, ex.branches.get(branch))
    assert ex.branches["no_fin"] == [want["fin"]]
    assert ex.unread_rule == ("copied_seq" if kind == "copied_seq" else "skb_len")
    assert ex.has_reasons == (kind in ("reasons", "copied_seq"))
    assert ex.table[0].startswith("static const unsigned char new_state")
    assert ex.table[-1] == "}" and text.splitlines()[ex.table_first_line - 1] == ex.table[0]


def makefile(version: tuple[int, int, int]) -> str:
    v, p, s = version
    return f"VERSION = {v}\nPATCHLEVEL = {p}\nSUBLEVEL = {s}\nEXTRAVERSION =\n"


def write_tree(root, kind, version=(6, 1, 99)):
    text, want, span = shape(kind)
    (root / "net" / "ipv4").mkdir(parents=True)
    (root / "net" / "ipv4" / "tcp.c").write_text(text)
    (root / "Makefile").write_text(makefile(version))
    return want, span


def write_tarball(path, kind, version=(6, 1, 99), mode="w:xz"):
    text, want, span = shape(kind)
    top = path.name.split(".tar")[0]
    with tarfile.open(path, mode) as tar:
        for name, data in (
            (f"{top}/Makefile", makefile(version)),
            (f"{top}/README", "x" * 1000),
            (f"{top}/net/ipv4/tcp.c", text),
        ):
            raw = data.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return want, span


@pytest.fixture
def places(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TUIEXPLORE_KERNEL_SRC", raising=False)
    mods, src = tmp_path / "modules", tmp_path / "src"
    mods.mkdir()
    src.mkdir()
    return {"lib_modules": str(mods), "usr_src": str(src), "release": "6.1.99-test"}


def test_discovery_order(tmp_path, places):
    build = tmp_path / "modules" / "6.1.99-test" / "build"
    write_tree(build, "split")
    write_tree(tmp_path / "src" / "linux-6.1.99", "single")
    write_tarball(tmp_path / "src" / "linux-source-6.1.tar.xz", "reasons")
    ex = discover(None, **places)
    assert "build" in ex.origin and ex.lines[0].startswith("void __tcp_close")
    env = {"TUIEXPLORE_KERNEL_SRC": str(tmp_path / "src" / "linux-6.1.99"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    assert "TUIEXPLORE_KERNEL_SRC" in discover(None, env=env, **places).origin
    explicit = discover(str(tmp_path / "src" / "linux-source-6.1.tar.xz"), env=env, **places)
    assert "--kernel-src" in explicit.origin and explicit.has_reasons
    order = [c.how for c in candidates(None, {}, **places)]
    src = places["usr_src"]
    assert order.index(f"{src}/linux*") < order.index(f"{src}/linux-source-* tarball")
    assert order[0].endswith("/$(uname -r)/build")


@pytest.mark.parametrize("mode,suffix", [("w:xz", ".tar.xz"), ("w:gz", ".tar.gz")])
def test_tarball_is_streamed_and_cached(tmp_path, places, monkeypatch, mode, suffix):
    tarball = tmp_path / "src" / f"linux-source-6.1{suffix}"
    want, (first, last) = write_tarball(tarball, "copied_seq", mode=mode)
    ex = discover(None, **places)
    assert ex.version == "6.1.99" and (ex.first_line, ex.last_line) == (first, last)
    assert ex.branches["data_was_unread"][0] == want["data_was_unread"]
    assert not (tmp_path / "src" / "linux-source-6.1").exists()  # nothing unpacked

    from tuiexplore.kernel import source

    def no_reading(path):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(source, "read_tarball", no_reading)
    again = discover(None, **places)
    assert again.lines == ex.lines and again.branches == ex.branches and again.table == ex.table


def test_fallback_is_bundled_with_provenance_and_hint(places):
    ex = discover(None, **places)
    assert ex == bundled()
    assert "6.12.117" in ex.origin and "net/ipv4/tcp.c 3065-3244" in ex.origin and "GPL-2.0" in ex.origin
    assert "linux-source" in ex.hint
    assert ex.branches["data_was_unread"] == [3109, 3111, 3113]


def test_bad_kernel_src_is_one_line_exit_2(tmp_path):
    proc = cli("kernel", "--kernel-src", str(tmp_path / "nope"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no such file" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = cli("kernel", "--kernel-src", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "no net/ipv4/tcp.c" in proc.stderr


def test_kernel_command_prints_markers_and_table(tmp_path):
    tarball = tmp_path / "linux-6.9.tar.gz"
    want, (first, last) = write_tarball(tarball, "split", version=(6, 9, 1), mode="w:gz")
    proc = cli("kernel", "--kernel-src", str(tarball), "--table", env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    row = next(line for line in out if line.lstrip().startswith(f"{want['data_was_unread']} "))
    assert "<- data_was_unread" in row
    assert any("no RST reason" in line for line in out if line.startswith("# note"))
    assert any("tcp_close_state() and its transition table" in line for line in out)


def test_version_notes():
    ex = bundled()
    notes = " | ".join(version_notes(ex, "6.9.4-generic"))
    assert "predates RST reasons" in notes and "line numbers differ" in notes
    assert "NOT_SPECIFIED" in " | ".join(version_notes(ex, "6.11.0"))
    assert "backport" in " | ".join(version_notes(ex, "6.12.40"))


def test_installed_debian_source_if_present():
    """The Debian linux-source-6.12 tarball on this machine (apt install linux-source-6.12)."""
    tarball = "/usr/src/linux-source-6.12.tar.xz"
    if not os.path.exists(tarball):
        pytest.skip("linux-source-6.12 is not installed (checked by hand; see docs/explorer.md)")
    ex = discover(tarball)
    assert ex.version.startswith("6.12.") and ex.first_line == 3065
    assert ex.branches["data_was_unread"] == [3109, 3111, 3113]


def test_kernel_src_tarball_whose_tcp_c_is_not_a_file(tmp_path):
    """A tarball whose net/ipv4/tcp.c (or Makefile) is a directory: one line, not a traceback (mypy found it)."""
    tarball = tmp_path / "linux-6.9.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name in ("linux-6.9/Makefile", "linux-6.9/net/ipv4/tcp.c"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
    proc = cli("kernel", "--kernel-src", str(tarball), env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "linux-6.9/Makefile is a directory, not a regular file" in proc.stderr  # the first one met, named
