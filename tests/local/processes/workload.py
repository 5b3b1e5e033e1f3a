"""The workload of the process-layer tests: a tiny HTTP server (standard library only).

Environment: PORT (required), VERSION, UNHEALTHY=1 (/healthz answers 500),
LIVE_SECONDS=<s> (/live answers 500 once it has listened that long), CHILD_PID_FILE=<path> (fork a
child that sleeps in the same process group and write its pid there), LISTEN_WHEN=<path>
(wait for that file to exist before listening).
"""

from __future__ import annotations

import http.server
import os
import sys
import time

STARTED = time.monotonic()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/healthz":
            self.answer(500 if os.environ.get("UNHEALTHY") == "1" else 200, "health")
        elif path == "/live":
            limit = float(os.environ.get("LIVE_SECONDS", "inf"))
            self.answer(200 if time.monotonic() - STARTED < limit else 500, "live")
        else:
            self.answer(200, f"version {os.environ.get('VERSION', '?')} pid {os.getpid()}")

    def answer(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"request {format % args}\n")


def fork_sleeper(pid_file: str) -> None:
    child = os.fork()
    if child == 0:
        time.sleep(300)
        os._exit(0)
    with open(pid_file, "w") as out:
        out.write(str(child))


if __name__ == "__main__":
    if os.environ.get("CHILD_PID_FILE"):
        fork_sleeper(os.environ["CHILD_PID_FILE"])
    while os.environ.get("LISTEN_WHEN") and not os.path.exists(os.environ["LISTEN_WHEN"]):
        time.sleep(0.02)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    STARTED = time.monotonic()  # LIVE_SECONDS counts from here, not from the slow start-up
    print(f"version {os.environ.get('VERSION', '?')} listening on {server.server_port}", flush=True)
    server.serve_forever()
