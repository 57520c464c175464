"""The web app of the lifecycle tests (tests/emulator_lifecycle.rs), standard library only.

Routes (HTTP/1.1, keep-alive):
  GET /                 "ready" (the adapter's readiness check)
  GET /hello            {"connection": N, "request": K}: which connection of the app served it
  GET /work?ms=M&steps=S  answers at once, then works M ms in S steps in a background thread,
                        printing "work N step i/S" and "work N done"
  GET /idle             204 when no work is running, 503 while some is (AWS_LWA_IDLE_CHECK_PATH)
  GET /sleep?ms=M       answers after M ms (an invocation that keeps the environment thawed)

Environment: AWS_LWA_PORT; KEEP_ALIVE_TIMEOUT (seconds an idle connection is kept, as
gunicorn's --keep-alive or uvicorn's --timeout-keep-alive); SIGTERM_DELAY_MS (how long the
SIGTERM handler takes); WITH_EXTENSION=1 also starts `lifecycle_app.py --extension`, an
external extension registered for SHUTDOWN. Every line goes to stdout, flushed.
"""
import itertools
import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def say(line):
    print(line, flush=True)


connections = itertools.count(1)
works = itertools.count(1)
running = 0
lock = threading.Lock()


def work(n, ms, steps):
    global running
    try:
        for i in range(1, steps + 1):
            time.sleep(ms / steps / 1000)
            say(f"work {n} step {i}/{steps}")
        say(f"work {n} done")
    finally:
        with lock:
            running -= 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = float(os.environ["KEEP_ALIVE_TIMEOUT"]) if os.environ.get("KEEP_ALIVE_TIMEOUT") else None

    def setup(self):
        super().setup()
        self.connection_number = next(connections)
        self.requests = 0

    def send(self, status, payload=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def do_GET(self):
        global running
        self.requests += 1
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/hello":
            body = {"connection": self.connection_number, "request": self.requests}
            self.send(200, json.dumps(body).encode())
        elif url.path == "/work":
            n = next(works)
            ms, steps = int(query.get("ms", ["1000"])[0]), int(query.get("steps", ["5"])[0])
            with lock:
                running += 1
            self.send(202, json.dumps({"work": n}).encode())
            threading.Thread(target=work, args=(n, ms, steps), daemon=True).start()
        elif url.path == "/sleep":
            time.sleep(int(query.get("ms", ["100"])[0]) / 1000)
            self.send(200, b"{}")
        elif url.path == "/idle":
            with lock:
                busy = running > 0
            self.send(503 if busy else 204)
        else:
            self.send(200, b"ready", "text/plain")

    def log_error(self, fmt, *args):
        # "Request timed out" lands here when KEEP_ALIVE_TIMEOUT closes an idle connection.
        say(f"app: connection {self.connection_number}: {fmt % args}")

    def log_message(self, fmt, *args):
        pass


def on_sigterm(signum, frame):
    say("app: SIGTERM received, cleaning up")
    time.sleep(int(os.environ.get("SIGTERM_DELAY_MS", "0")) / 1000)
    say("app: goodbye")
    sys.exit(0)


def extension():
    """An external extension registered for SHUTDOWN, as the Extensions API describes one."""
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
    register = urllib.request.Request(
        api + "/register", data=b'{"events": ["SHUTDOWN"]}', method="POST",
        headers={"Lambda-Extension-Name": "lifecycle-test-extension"})
    with urllib.request.urlopen(register) as answer:
        ext_id = answer.headers["Lambda-Extension-Identifier"]
    say("extension: registered for SHUTDOWN")
    open(os.environ["EXTENSION_READY_FILE"], "w").close()
    next_event = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(next_event) as answer:
        event = json.load(answer)
    say(f"extension: {event['eventType']} reason={event['shutdownReason']}")
    # Done: asking for the next event tells Lambda so (it never answers this one).
    urllib.request.urlopen(next_event)


if __name__ == "__main__":
    if sys.argv[1:] == ["--extension"]:
        extension()
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_sigterm)
    if os.environ.get("WITH_EXTENSION") == "1":
        # On Lambda extensions register before the runtime starts: listen (and so let the
        # adapter take events, after which the environment may freeze) only once it has.
        import subprocess
        import tempfile
        ready = os.path.join(tempfile.mkdtemp(), "registered")
        subprocess.Popen([sys.executable, __file__, "--extension"], env={**os.environ, "EXTENSION_READY_FILE": ready})
        until = time.monotonic() + 10
        while not os.path.exists(ready) and time.monotonic() < until:
            time.sleep(0.01)
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["AWS_LWA_PORT"])), Handler)
    server.daemon_threads = True
    say("app: listening")
    server.serve_forever()
