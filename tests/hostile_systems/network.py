"""Opens a TCP connection to a listener the test started on the host's loopback."""

import socket
import sys

port = int(sys.argv[1])
try:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"exfiltrated")
        print("CONNECTED")
except OSError as err:
    print("REFUSED", type(err).__name__)
