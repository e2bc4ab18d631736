"""For the detach tests: waiter.py PORT. Connects, blocks in recv() until the peer speaks, then
answers "bye" and closes. It must finish correctly after the tracer has gone."""

import socket
import sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
got = s.recv(100)
s.sendall(b"bye:" + got)
s.close()
print("waiter done", flush=True)
