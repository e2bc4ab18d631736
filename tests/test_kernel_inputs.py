"""The predictor's namespace-wide inputs: accept-queue children and the peer's usable window."""

import dataclasses

from tuiexplore.domain import SocketRow
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.kernel_inputs import accept_children, complete, usable_window
from tuiexplore.lab.predict import Child, SocketView
from tuiexplore.lab.tcpinfo import window_fields

SOCK = SocketRow("c", 3, "ESTABLISHED", lport=5000, rport=6000, outq=100, unsent=40, snd_wscale=7)


def frame(sport, dport, win, flags=0x10):
    return Frame(0.0, b"", "127.0.0.1", "127.0.0.1", sport, dport, 0, 0, flags, win, 0)


def test_usable_window_prefers_tcp_info_and_subtracts_bytes_in_flight():
    assert usable_window(dataclasses.replace(SOCK, snd_wnd=1000), []) == 1000 - 60
    assert usable_window(dataclasses.replace(SOCK, snd_wnd=60), []) == 0


def test_captured_window_is_scaled_except_on_a_syn():
    frames = [frame(6000, 5000, 512, 0x12), frame(5000, 6000, 9), frame(6000, 5000, 3)]
    assert usable_window(SOCK, frames) == (3 << 7) - 60
    assert usable_window(SOCK, frames[:1]) == 512 - 60
    assert usable_window(SOCK, []) is None


def test_children_from_the_table_plus_the_reset_ones():
    listener = SocketRow("l", 3, "LISTEN", lport=80, accept_queue=3)
    table = {
        (80, 0): "LISTEN",
        (80, 1001): "ESTABLISHED",  # queued
        (80, 1002): "CLOSE_WAIT",  # queued, its client sent a FIN
        (80, 1003): "ESTABLISHED",  # accepted: an fd holds it
        (80, 1004): "SYN_RECV",  # a request socket, not in the accept queue
        (80, 1005): "FIN_WAIT2",  # accepted and closed: an orphan
        (1001, 80): "ESTABLISHED",
    }
    kids = accept_children(listener, table, {(80, 1003)})
    assert kids == (Child(1001, "ESTABLISHED"), Child(1002, "CLOSE_WAIT"), Child(0, "CLOSE"))
    view = complete(SocketView("LISTEN", accept_queue=3), listener, table, {(80, 1003)}, [])
    assert view.children == kids and view.send_window is None


def test_tcp_info_without_snd_wnd():
    # Before 5.4 struct tcp_info ends before tcpi_snd_wnd: getsockopt() returns fewer bytes.
    short = bytes([1, 0, 0, 0, 0, 0, 0x97, 0]) + bytes(96)
    assert window_fields(short) == {"snd_wscale": 7, "snd_mss": 0, "cwnd_room": 0}
    long = short + bytes(124) + (4096).to_bytes(4, "little")
    assert window_fields(long) == {"snd_wscale": 7, "snd_mss": 0, "cwnd_room": 0, "snd_wnd": 4096}


def test_the_congestion_windows_room_is_cwnd_minus_the_packets_in_flight():
    # tcp_packets_in_flight(): packets_out - (sacked_out + lost_out) + retrans_out
    info = bytearray(232)
    info[16:20] = (1448).to_bytes(4, "little")  # tcpi_snd_mss
    info[24:40] = b"".join(n.to_bytes(4, "little") for n in (5, 1, 2, 1))  # unacked, sacked, lost, retrans
    info[80:84] = (4).to_bytes(4, "little")  # tcpi_snd_cwnd
    got = window_fields(bytes(info))
    assert (got["snd_mss"], got["cwnd_room"]) == (1448, 4 - (5 - 1 - 2 + 1))
