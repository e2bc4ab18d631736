"""The peer for the step tests: peer.py PORT [DATA]. Accepts one connection, sends DATA if given,
then reads until the client's end and prints what it saw: "peer: EOF" (a FIN) or "peer: RST"."""

import socket
import sys

port = int(sys.argv[1])
data = sys.argv[2].encode() if len(sys.argv) > 2 else b""
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
c, _ = ls.accept()
if data:
    c.sendall(data)
try:
    while c.recv(4096):
        pass
    print("peer: EOF", flush=True)
except ConnectionResetError:
    print("peer: RST", flush=True)
