"""The web app of the RIE streaming and concurrency tests (tests/e2e_rie.rs), standard library only.

Routes:
  GET /            "ready" (the adapter's readiness check)
  GET /sse?n=N     N server-sent events, 50 ms apart, each its own chunk
  GET /broken      promises 1000 bytes, sends "partial body", then closes the connection
  GET /slow/NAME   answers "slow NAME" after 500 ms
The port comes from AWS_LWA_PORT.
"""
import os
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, content_type, payload):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/sse":
            count = int(parse_qs(url.query).get("n", ["3"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Set-Cookie", "stream=1; Path=/")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n in range(1, count + 1):
                self.chunk(b"event: tick\ndata: %d\n\n" % n)
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
        elif url.path == "/broken":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"partial body")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif url.path.startswith("/slow/"):
            time.sleep(0.5)
            self.send(200, "text/plain", b"slow " + url.path[6:].encode())
        else:
            self.send(200, "text/plain", b"ready")

    def log_message(self, fmt, *args):
        print("app:", fmt % args, flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["AWS_LWA_PORT"])), Handler)
    print(f"app: listening on port {server.server_port}", flush=True)
    server.serve_forever()
