#!/usr/bin/env python3
"""Sends N GET requests one after another on one keep-alive connection.

    seq_client.py PORT PATH N

Exits non-zero if any answer is not 200. Used to drive a proxy running
under callgrind, where only the count of requests matters, not their pace.
"""
import http.client
import sys


def main():
    port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(n):
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            sys.exit(f"request {i}: status {resp.status}")
    conn.close()


if __name__ == "__main__":
    main()
