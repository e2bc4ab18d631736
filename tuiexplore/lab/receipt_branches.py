"""The branch ids of a segment's receipt (lab/receipt.py): what the kernel does with a segment
that arrives, as tcp_v4_rcv() hands it on. A leaf module, so predict.py's BRANCHES can take them
in without importing the predictor that uses predict.py."""

RECEIPT_BRANCHES: dict[str, str] = {
    "rcv_no_socket": "tcp_v4_rcv(): no socket matches: tcp_v4_send_reset(NULL) answers anything but an RST",
    "rcv_syn_sent": "tcp_rcv_synsent_state_process(): our SYN's answer: a SYN-ACK that ACKs it establishes, a wrong ACK gets RST,"
    " an RST that ACKs it refuses the connection",
    "rcv_syn_recv": "tcp_check_req(): the listener's request socket: the handshake's ACK makes the child (ESTABLISHED),"
    " the SYN again gets the SYN-ACK again, a wrong ACK gets RST",
    "rcv_listen": "tcp_rcv_state_process() in LISTEN: a SYN is a new connection (SYN-ACK), an ACK is answered with RST",
    "rcv_no_ack": "tcp_rcv_state_process(): no ACK, RST or SYN flag: dropped without a word",
    "rcv_out_of_window": "tcp_validate_incoming(): outside the receive window: a duplicate ACK (rate-limited)",
    "rcv_rst_ignored": "tcp_validate_incoming(): an RST outside the window is dropped without a word",
    "rcv_rst_exact": "tcp_validate_incoming(): RST at exactly RCV.NXT -> tcp_reset(): CLOSE, ECONNRESET",
    "rcv_rst_challenge": "tcp_validate_incoming(): RST in the window but not at RCV.NXT: challenge ACK (RFC 5961 §3.2)",
    "rcv_syn_challenge": "tcp_validate_incoming(): SYN on a synchronized socket: challenge ACK (RFC 5961 §4.2)",
    "rcv_oow_limited": "__tcp_oow_rate_limited(): an answer within tcp_invalid_ratelimit of the last: not sent",
    "rcv_ack_too_old": "tcp_ack(): an ACK before SND.UNA by more than the old-ACK bound (RFC 5961 §5.2): dropped,"
    " a challenge ACK (TCP_TOO_OLD_ACK)",
    "rcv_ack_unsent": "tcp_ack(): an ACK of data never sent (past SND.NXT): dropped (TCP_ACK_UNSENT_DATA); a challenge ACK"
    " where the kernel's tcp_ack() sends one, or outside ESTABLISHED (tcp_rcv_state_process())",
    "rcv_ack": "tcp_ack(): an ACK; one that ACKs our FIN moves FIN_WAIT1, CLOSING or LAST_ACK on",
    "rcv_data": "tcp_data_queue(): data in order: queued for read(), ACKed",
    "rcv_data_after_close": "tcp_rcv_state_process(): data after our close() (RCV_SHUTDOWN): tcp_reset() and RST, TCPAbortOnData",
    "rcv_zero_window": "tcp_data_queue(): in order into a zero receive window: dropped (TCPZeroWindowDrop), a duplicate ACK"
    " (a bare FIN is taken instead where the kernel has 6.10's bare-FIN exception)",
    "rcv_fin": "tcp_data_queue() -> tcp_fin(): the FIN moves the state (CLOSE_WAIT, CLOSING, TIME_WAIT) and is ACKed",
    "tw_ack": "tcp_timewait_state_process(): anything but a bare ACK or RST at RCV.NXT is ACKed again",
    "tw_quiet": "tcp_timewait_state_process(): a bare ACK at RCV.NXT: nothing sent, TIME_WAIT restarted",
    "tw_kill": "tcp_timewait_state_process(): an RST at RCV.NXT kills TIME_WAIT (tcp_rfc1337 = 0)",
    "tw_syn": "tcp_timewait_state_process(): a new SYN past RCV.NXT reopens the port: the listener answers SYN-ACK",
    "tw_rst": "tcp_timewait_state_process(): new data to a FIN_WAIT2 mini-socket: RST (TCP_TIMEWAIT_SOCKET)",
    "tw_fin": "tcp_timewait_state_process(): the FIN to a FIN_WAIT2 mini-socket: ACK, real TIME_WAIT",
}
