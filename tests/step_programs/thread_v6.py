"""For the step tests: an IPv6 listener, a thread that connects to it, and an escape sequence printed."""

import socket
import threading

ls = socket.socket(socket.AF_INET6)
ls.bind(("::1", 0))
ls.listen()
port = ls.getsockname()[1]


def cl():
    c = socket.create_connection(("::1", port))
    c.close()


t = threading.Thread(target=cl)
t.start()
s, _ = ls.accept()
s.recv(1)
s.close()
t.join()
print("\x1b[31mred")
