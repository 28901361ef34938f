#!/usr/bin/env python3
"""notify_listener.py DIR - a webhook receiver for the notification tests, on 127.0.0.1.

Binds a free port and writes it to DIR/port, then appends each POSTed body as one line to
DIR/posts (with the path in DIR/paths). A path containing "flaky" answers 503 to the first
request on it and 204 afterwards; "refuse" always answers 403; others 204."""
import http.server
import os
import sys

d = sys.argv[1]
seen = set()


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(d, "paths"), "a") as f:
            f.write("%s %s\n" % (self.path, self.headers.get("Content-Type")))
        code = 204
        if "flaky" in self.path and self.path not in seen:
            seen.add(self.path)
            code = 503
        elif "refuse" in self.path:
            code = 403
        if code == 204:
            with open(os.path.join(d, "posts"), "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
