"""The predictor's kernel-version logic, on states no lab on this kernel can produce."""

from tuiexplore.lab.predict import BRANCHES, SocketView, kernel_version, predict_close, predict_disconnect, predict_shutdown

V69, V610, V612, V617, V618 = (6, 9, 0), (6, 10, 3), (6, 12, 1), (6, 17, 9), (6, 18, 2)


def test_version_parsing():
    assert kernel_version("6.18.44-fc-v657") == (6, 18, 44)
    assert kernel_version("5.10.0-28-amd64") == (5, 10, 0)
    assert kernel_version("4.9") == (4, 9, 0)


def test_reason_names_follow_the_kernel_version():
    s = SocketView("ESTABLISHED", inq=1)
    assert predict_close(s, V69).reason is None
    assert predict_close(s, V610).reason == "NOT_SPECIFIED"
    assert predict_close(s, V612).reason == "TCP_ABORT_ON_CLOSE"
    z = SocketView("ESTABLISHED", linger=(1, 0))
    assert predict_close(z, V612).reason == "TCP_STATE"  # SO_LINGER 0 is not ABORT_ON_LINGER
    assert "TcpExt.TCPAbortOnData" in predict_close(z, V612).counters


def test_a_read_segment_with_the_fin_is_not_unread_on_any_kernel_line():
    # tcp_recvmsg() eats a FIN-carrying skb in the call that copies its last byte (found_fin_ok),
    # so with nothing left to read neither the old length sum nor the copied_seq test finds data.
    s = SocketView("CLOSE_WAIT", inq=0)
    for v in (V617, V618, (5, 10, 262), (6, 1, 176)):
        assert predict_close(s, v).outcome == "FIN"
        assert predict_close(s, v, unread_rule="skb_len").outcome == "FIN"
    p = SocketView("CLOSE_WAIT", inq=3)
    assert predict_close(p, V617).branch == predict_close(p, V618).branch == "data_was_unread"


def test_already_closed_comes_before_unread_and_linger():
    s = SocketView("CLOSE", inq=10, linger=(1, 0))
    p = predict_close(s, V618)
    assert (p.outcome, p.branch) == ("none", "already_closed")


def test_unread_comes_before_linger_zero():
    p = predict_close(SocketView("ESTABLISHED", inq=3, linger=(1, 0)), V618)
    assert p.branch == "data_was_unread"


def test_disconnect_states():
    assert predict_disconnect(SocketView("SYN_SENT"), V618).outcome == "none"
    assert predict_disconnect(SocketView("LAST_ACK", unsent=5), V612).reason == "TCP_DISCONNECT_WITH_DATA"
    assert predict_disconnect(SocketView("LAST_ACK"), V612).outcome == "none"
    assert predict_disconnect(SocketView("FIN_WAIT2"), V612).outcome == "RST"


def test_shutdown_never_resets_a_connection():
    assert predict_shutdown(SocketView("ESTABLISHED", inq=100), "SHUT_RDWR", V618).outcome == "FIN"
    assert predict_shutdown(SocketView("ESTABLISHED", unsent=100), "SHUT_WR", V618).outcome == "none"
    assert predict_shutdown(SocketView("FIN_WAIT2"), "SHUT_WR", V618).branch == "shutdown_none"
    assert predict_shutdown(SocketView("LISTEN", accept_queue=2), "SHUT_WR", V618).outcome == "none"
    assert predict_shutdown(SocketView("LISTEN", accept_queue=2), "SHUT_RDWR", V618).outcome == "RST"


def test_every_branch_is_documented():
    produced = {
        predict_close(SocketView("LISTEN"), V618).branch,
        predict_close(SocketView("CLOSE"), V618).branch,
        predict_close(SocketView("ESTABLISHED", inq=1), V618).branch,
        predict_close(SocketView("ESTABLISHED", linger=(1, 0)), V618).branch,
        predict_close(SocketView("ESTABLISHED"), V618).branch,
        predict_close(SocketView("FIN_WAIT1"), V618).branch,
        predict_close(SocketView("FIN_WAIT2", linger2=-1), V618).branch,
        predict_close(SocketView("ESTABLISHED", linger2=-1), V618).branch,
        predict_shutdown(SocketView("ESTABLISHED"), "SHUT_WR", V618).branch,
        predict_shutdown(SocketView("ESTABLISHED"), "SHUT_RD", V618).branch,
        predict_disconnect(SocketView("ESTABLISHED"), V618).branch,
    }
    assert produced <= set(BRANCHES)


def test_the_running_kernels_own_source_decides_the_unread_rule():
    # A 6.12 stable kernel whose source shows the backported copied_seq test
    s = SocketView("CLOSE_WAIT", inq=2)
    assert "sums" in predict_close(s, (6, 12, 117)).text
    assert "copied_seq" in predict_close(s, (6, 12, 117), unread_rule="copied_seq").text
    assert "sums" in predict_close(s, (6, 18, 1), unread_rule="skb_len").text


def test_listen_stop_follows_each_childs_state():
    from tuiexplore.lab.predict import Child

    dead = SocketView("LISTEN", accept_queue=1, children=(Child(0, "CLOSE"),))
    assert predict_close(dead, V618).outcome == "none"
    mixed = SocketView("LISTEN", accept_queue=2, children=(Child(5, "CLOSE_WAIT"), Child(0, "CLOSE")))
    p = predict_close(mixed, V618)
    assert (p.outcome, p.reason) == ("RST", "TCP_STATE")
    assert predict_disconnect(dead, V618).outcome == "none"
    assert predict_shutdown(dead, "SHUT_RD", V618).outcome == "none"
    # children unknown: every queued child is taken to be alive
    assert predict_close(SocketView("LISTEN", accept_queue=1), V618).outcome == "RST"


def test_a_fin_needs_one_byte_of_window():
    full = SocketView("ESTABLISHED", send_window=0)
    assert predict_close(full, V618).outcome == "none"
    assert predict_shutdown(full, "SHUT_WR", V618).outcome == "none"
    assert predict_close(SocketView("ESTABLISHED", send_window=1), V618).outcome == "FIN"
    assert predict_close(SocketView("CLOSE_WAIT", send_window=0), V618).outcome == "none"
    # a held FIN is not ACKed: no orphan-ACK reset for TCP_LINGER2 < 0
    assert predict_close(SocketView("ESTABLISHED", send_window=0, linger2=-1), V618).outcome == "none"


def test_exit_releases_the_newest_fd_first():
    from tuiexplore.lab.exit_order import predict_exit

    near = SocketView("ESTABLISHED", lport=1000, rport=2000)
    far = SocketView("ESTABLISHED", inq=4, lport=2000, rport=1000)
    preds = predict_exit([("near", near), ("far", far)], V618)
    assert [(p.outcome, p.branch) for p in preds] == [("none", "already_closed"), ("RST", "data_was_unread")]
    # listed the other way round, near is released first: its FIN reaches far, whose unread data still resets it
    preds = predict_exit([("far", far), ("near", near)], V618)
    assert [(p.outcome, p.branch) for p in preds] == [("RST", "data_was_unread"), ("FIN", "fin")]


def test_a_fin_held_by_the_window_is_said_to_be_queued_not_sent():
    # After shutdown the FIN counts in write_seq: SIOCOUTQNSD > 0 means it has not left yet.
    held, sent = SocketView("FIN_WAIT1", unsent=1), SocketView("FIN_WAIT1", unsent=0)
    assert predict_close(held, V612).outcome == predict_close(sent, V612).outcome == "none"
    assert "already queued" in predict_close(held, V612).text
    assert "already sent" in predict_close(sent, V612).text
