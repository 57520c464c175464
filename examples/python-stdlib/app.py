"""A tiny web app using only the Python standard library, to run behind lambda-adapter.

Routes:
  GET  /                 a greeting (text/plain)
  POST /echo             echoes the JSON body back, with the method/path/query/headers it saw
  GET  /binary           8 bytes of binary data (application/octet-stream)
  GET  /cookies          sets two cookies and reports the cookies it received
  GET  /status/NNN       answers with status NNN
  anything else          a JSON description of the request (method, path, query, headers, body)
The port comes from AWS_LWA_PORT, then PORT, else 8080 (the adapter's default).
"""
import base64
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BINARY = bytes([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF, 0x10, 0x80])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def describe(self, body):
        url = urlsplit(self.path)
        try:
            text, encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(body).decode(), "base64"
        return {
            "method": self.command,
            "path": url.path,
            "query": parse_qs(url.query),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": text,
            "bodyEncoding": encoding,
        }

    def send(self, status, content_type, payload, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path == "/" and self.command == "GET":
            self.send(200, "text/plain; charset=utf-8", b"Hello from a Python app behind lambda-adapter!\n")
        elif path == "/echo":
            try:
                parsed = json.loads(body or b"null")
            except ValueError as e:
                return self.send(400, "application/json", json.dumps({"error": str(e)}).encode())
            reply = {"youSent": parsed, "request": self.describe(body)}
            self.send(200, "application/json", json.dumps(reply).encode())
        elif path == "/binary":
            self.send(200, "application/octet-stream", BINARY)
        elif path == "/cookies":
            seen = self.headers.get("Cookie", "")
            self.send(200, "application/json", json.dumps({"cookie": seen}).encode(),
                      [("Set-Cookie", "flavour=oatmeal; Path=/"), ("Set-Cookie", "visits=1; HttpOnly")])
        elif path.startswith("/status/") and path[8:].isdigit():
            self.send(int(path[8:]), "text/plain", f"status {path[8:]}\n".encode())
        else:
            self.send(200, "application/json", json.dumps(self.describe(body)).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any

    def log_message(self, fmt, *args):
        print("app:", fmt % args, flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or 8080)
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"app: listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
