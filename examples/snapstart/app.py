"""A web app with SnapStart hooks, using only the Python standard library.

What a SnapStart snapshot breaks, and what the hooks repair:
  - connections: the app keeps a "pool" of connections to a backend. A connection captured in
    the snapshot is dead after a restore, so the before-checkpoint hook closes the pool and
    the after-restore hook opens a new one.
  - uniqueness: a value seeded once at start-up would be the same in every environment
    restored from one snapshot, so the after-restore hook draws a fresh one.

Routes:
  GET  /                   the app's state as JSON: pool generation, instance id, hooks seen
  POST /snapstart/before   the before-checkpoint hook (AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH)
  POST /snapstart/after    the after-restore hook (AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH)
  GET  /health             the readiness check: 503 while the pool is closed
The port comes from AWS_LWA_PORT, then PORT, else 8080 (the adapter's default).

Outside Lambda (or on Lambda without the adapter) the hook routes are ordinary routes: do not
expose them publicly.
"""
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {
    "pool": "open",
    "poolGeneration": 1,
    "instanceId": secrets.token_hex(8),
    "beforeCheckpoint": 0,
    "afterRestore": 0,
}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with LOCK:
            if self.path == "/snapstart/before":
                STATE["pool"] = "closed"
                STATE["beforeCheckpoint"] += 1
            elif self.path == "/snapstart/after":
                STATE["pool"] = "open"
                STATE["poolGeneration"] += 1
                STATE["instanceId"] = secrets.token_hex(8)
                STATE["afterRestore"] += 1
            else:
                return self.send(404, {"error": "not found"})
            self.send(200, dict(STATE))

    def do_GET(self):
        with LOCK:
            state = dict(STATE)
        if self.path == "/health":
            return self.send(200 if state["pool"] == "open" else 503, {"pool": state["pool"]})
        if state["pool"] != "open":
            return self.send(503, {"error": "the connection pool is closed", **state})
        self.send(200, state)

    def log_message(self, fmt, *args):
        print("app:", fmt % args, flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or 8080)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
