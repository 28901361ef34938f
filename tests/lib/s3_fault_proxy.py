#!/usr/bin/env python3
"""s3_fault_proxy.py - an HTTP proxy for tests that puts faults between a client and an S3
server: dropped connections, 500/503 answers, stalls, answers cut in the middle.

    s3_fault_proxy.py --upstream 127.0.0.1:PORT --port-file F --stats-file S \
        [--drop 0.08] [--error 0.1] [--stall 0.04] [--stall-seconds 3] [--cut 0.06] [--seed 1]
        [--tls-cert CERT.pem --tls-key KEY.pem]     (serve HTTPS to the client)
        [--only REGEX]     (faults only for requests whose request line matches; the rest pass)

Each request is read whole (head and Content-Length body), then one fate is drawn:
  drop   the connection is closed before anything reaches the server
  error  the proxy answers 500 InternalError or 503 SlowDown itself
  stall  nothing is sent for --stall-seconds, then the request goes through
  cut    the request reaches the server, but only half of the answer reaches the client
  pass   the request goes through untouched
Answers carry "Connection: close". The counts of each fate are written to --stats-file after
every request. The proxy listens on 127.0.0.1 on a free port written to --port-file.
"""
import argparse
import json
import random
import re
import socket
import socketserver
import sys
import threading
import time

ARGS = None
LOCK = threading.Lock()
STATS = {"pass": 0, "drop": 0, "error": 0, "stall": 0, "cut": 0}
RNG = random.Random()


def count(fate):
    with LOCK:
        STATS[fate] += 1
        with open(ARGS.stats_file + ".tmp", "w") as f:
            json.dump(STATS, f)
        import os
        os.replace(ARGS.stats_file + ".tmp", ARGS.stats_file)


def read_request(rfile):
    """(head bytes, body bytes) of one request, or None at EOF"""
    lines = []
    while True:
        line = rfile.readline(65537)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    head = b"".join(lines)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = rfile.read(length) if length else b""
    return head, body


def set_close(head):
    """the request head with Connection: close (the connection header is never signed)"""
    lines = head.split(b"\r\n")
    lines = [l for l in lines if not l.lower().startswith(b"connection:")]
    # lines ends with ["", ""] after the blank line
    return b"\r\n".join(lines[:-2] + [b"Connection: close", b"", b""])


def forward(head, body):
    host, port = ARGS.upstream.split(":")
    up = socket.create_connection((host, int(port)), timeout=60)
    try:
        up.sendall(set_close(head) + body)
        chunks = []
        while True:
            data = up.recv(1 << 20)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)
    finally:
        up.close()


def fix_answer(answer):
    """the upstream answer with Connection: close, so that the client reconnects"""
    head, sep, body = answer.partition(b"\r\n\r\n")
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + sep + body


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        req = read_request(self.rfile)
        if req is None:
            return
        head, body = req
        a = ARGS
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if a.only and not re.search(a.only, line):
            count("pass")
            self.wfile.write(fix_answer(forward(head, body)))
            return
        with LOCK:
            r = RNG.random()
        if r < a.drop:
            count("drop")
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        r -= a.drop
        if r < a.error:
            count("error")
            code, text, s3code = (503, "Service Unavailable", "SlowDown") if RNG.random() < 0.5 \
                else (500, "Internal Server Error", "InternalError")
            xml = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
                   '<Message>injected by the fault proxy</Message></Error>' % s3code).encode()
            self.wfile.write(b"HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                             % (code, text.encode(), len(xml)) + xml)
            return
        r -= a.error
        if r < a.stall:
            count("stall")
            time.sleep(a.stall_seconds)
            try:
                self.wfile.write(fix_answer(forward(head, body)))
            except OSError:
                pass
            return
        r -= a.stall
        if r < a.cut:
            count("cut")
            answer = fix_answer(forward(head, body))
            self.wfile.write(answer[: len(answer) // 2])
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        count("pass")
        self.wfile.write(fix_answer(forward(head, body)))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--stats-file", required=True)
    p.add_argument("--drop", type=float, default=0.08)
    p.add_argument("--error", type=float, default=0.10)
    p.add_argument("--stall", type=float, default=0.04)
    p.add_argument("--stall-seconds", type=float, default=3.0)
    p.add_argument("--cut", type=float, default=0.06)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--only")
    ARGS = p.parse_args()
    RNG.seed(ARGS.seed)
    srv = Server(("127.0.0.1", 0), Handler)
    if ARGS.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.replace(ARGS.port_file + ".tmp", ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
