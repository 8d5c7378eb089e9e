#!/usr/bin/env python3
"""Opens N keep-alive connections, makes one request on each, then keeps
them open and idle until killed.

    idle_conns.py PORT PATH N

Prints "ready N" once every connection has had its answer.
"""
import socket
import sys
import time


def main():
    port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        conns.append(s)
    for s in conns:
        # The head and the (short) body arrive together; read until the body ends.
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(body) < length:
            body += s.recv(65536)
        if not head.startswith(b"HTTP/1.1 200"):
            sys.exit(f"not 200: {head[:40]!r}")
    print(f"ready {len(conns)}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
