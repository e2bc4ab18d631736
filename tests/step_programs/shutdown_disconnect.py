"""For the step tests: shutdown(SHUT_WR) on one end, then connect(AF_UNSPEC) on the other."""

import ctypes
import socket
import struct

ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen()
c = socket.create_connection(ls.getsockname())
s, _ = ls.accept()
c.shutdown(socket.SHUT_WR)
s.recv(10)
unspec = struct.pack("=H14x", 0)  # Python's connect() has no AF_UNSPEC form: libc's, on the fd
ctypes.CDLL(None).connect(s.fileno(), unspec, len(unspec))
c.close()
s.close()
