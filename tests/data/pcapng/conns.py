"""A few teardowns on loopback, one per port: FIN/FIN, unread data (RST), refused (make.sh)."""

import socket
import sys
import time


def pair(port: int, unread: bool) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen()
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = srv.accept()
    s.sendall(b"hello")
    if not unread:
        c.recv(10)
    time.sleep(0.1)
    c.close()
    time.sleep(0.1)
    s.close()
    srv.close()


base = int(sys.argv[1])
pair(base, False)
pair(base + 1, True)
try:
    socket.create_connection(("127.0.0.1", base + 2))
except ConnectionRefusedError:
    pass
time.sleep(0.3)
