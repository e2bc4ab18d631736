"""The agent's pure parts, without a lab: attribution of frames, trace events and socket rows to
actors; the prediction inputs; the unread-data rule; the protocol's serialiser."""

import dataclasses

import pytest

from tuiexplore.domain import ActorInventory, PredictionView, SocketRow, StepDone
from tuiexplore.kernel.excerpt import bundled
from tuiexplore.kernel.notes import running_unread_rule
from tuiexplore.lab import inputs, protocol
from tuiexplore.lab.attribution import ACK, SYN, Attribution
from tuiexplore.lab.codec import encode

LISTENER = SocketRow("listener", 3, "LISTEN", lport=4000)
CONN = SocketRow("conn", 5, "ESTABLISHED", lport=4000, rport=50000)
SOCK = SocketRow("sock", 3, "ESTABLISHED", lport=50000, rport=4000)


def lab() -> Attribution:
    a = Attribution()
    a.sockets("server", [LISTENER, CONN])
    a.sockets("client", [SOCK])
    return a


def test_owner_of_a_connection_its_listener_and_an_unknown_port():
    a = lab()
    assert a.owner(4000, 50000) == ("server", "conn")
    assert a.owner(50000, 4000) == ("client", "sock")
    assert a.owner(4000, 50001) == ("server", "?")  # a child nobody accepted yet speaks for the listener
    assert a.owner(4000, 0) == ("server", "listener")
    assert a.owner(1234, 5) == ("?", "?")


def test_a_refused_connect_syn_is_the_connecting_socket():
    a = lab()
    # ECONNREFUSED gives the port back before the actor reports it: the SYN is the step's socket.
    assert a.frame(51000, 9, SYN, 0, ("client", "late")) == ("client", "?")
    assert a.owner(51000, 9) == ("client", "late")
    a.frame(52000, 9, SYN | ACK, 0, ("client", "other"))  # a SYN-ACK is not a connect
    assert a.owner(52000, 9) == ("?", "?")


def test_state_changes_from_the_kernel_table_and_closed_listeners_kept_until_the_step_ends():
    a = lab()
    a.state((4000, 50000), "ESTABLISHED")
    changes = a.changes({(4000, 50000): "CLOSE_WAIT", (50000, 4000): "FIN_WAIT2"})
    assert [(k, old, new, who) for k, old, new, who in changes] == [
        ((4000, 50000), "ESTABLISHED", "CLOSE_WAIT", ("server", "conn")),
        ((50000, 4000), "CLOSE", "FIN_WAIT2", ("client", "sock")),
    ]
    assert a.changes({}) and a.known_state == {}  # gone from the table: CLOSE, then forgotten
    a.reset_listeners({"server": [CONN], "client": [SOCK]})  # the listener was closed
    assert a.owner(4000, 50001) == ("?", "?")


def test_trace_key_of_a_connect_before_its_port_is_known():
    a = lab()
    assert a.trace_key(0, 4000, SOCK) == (50000, 4000)
    assert a.trace_key(4000, 50000, SOCK) == (4000, 50000)


def test_prediction_inputs_for_close_exit_and_shutdown():
    a = lab()
    held = {"listener": LISTENER, "conn": dataclasses.replace(CONN, inq=1)}
    states = {(50000, 4000): "ESTABLISHED"}
    [(row, p)] = inputs.predict("close", {"fd": "conn"}, held, a, states, (6, 18, 0), None)
    assert (row.name, p.outcome, p.branch) == ("conn", "RST", "data_was_unread")
    assert p.path == ("shutdown_mask", "drain", "data_was_unread")
    assert [r.name for r, _ in inputs.predict("exit", {}, held, a, states, (6, 18, 0), None)] == ["listener", "conn"]
    [(_, p)] = inputs.predict("shutdown", {"fd": "conn", "how": "SHUT_WR"}, held, a, states, (6, 18, 0), None)
    assert p.path == ("shutdown_fin",)
    assert inputs.predict("close", {"fd": "nope"}, held, a, states, (6, 18, 0), None) == []


def test_the_unread_rule_comes_from_the_source_only_when_it_is_the_running_kernels():
    ex = bundled()
    assert running_unread_rule(ex, ex.version) == ex.unread_rule
    assert running_unread_rule(ex, "6.1.0-13-amd64") is None
    assert running_unread_rule(dataclasses.replace(ex, version=""), ex.version) is None


@pytest.mark.parametrize(
    "msg,decode",
    [
        (protocol.StepCmd(3, "client", "close", {"fd": "c"}), protocol.decode_command),
        (protocol.ConfigCmd(4, None), protocol.decode_command),
        (protocol.Done(StepDone(3, False, 1.5, 0.0, "refused", "busy")), protocol.decode_reply),
        (protocol.Inventory(1, {"server": ActorInventory(7, [LISTENER], True)}), protocol.decode_reply),
        (protocol.Predictions(2, [PredictionView("c", "RST", "linger_zero", None, "t", ("drain",))]), protocol.decode_reply),
        (protocol.Returned(9, -1, "EINVAL", {"message": "x"}, 1.0, 2.0, [CONN]), protocol.decode_actor_reply),
        (protocol.Refused(10, 9), protocol.decode_actor_reply),
    ],
)
def test_every_message_survives_the_wire(msg, decode):
    assert decode(encode(msg)) == msg
