"""An SQS consumer behind lambda-adapter, using only Python's standard library.

Events that are not HTTP requests (SQS, SNS, S3, EventBridge, ...) reach the app as
`POST /events` (AWS_LWA_PASS_THROUGH_PATH) with the raw event JSON as the body. The app's JSON
response becomes the function's result, so returning `batchItemFailures` tells SQS to retry only
the failed messages (enable "ReportBatchItemFailures" on the event source mapping).
"""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PASS_THROUGH_PATH = os.environ.get("AWS_LWA_PASS_THROUGH_PATH", "/events")


def process(message: dict) -> None:
    """The business logic: here, each body must be a JSON object with a positive "amount"."""
    order = json.loads(message["body"])
    if not isinstance(order, dict) or not isinstance(order.get("amount"), (int, float)) or order["amount"] <= 0:
        raise ValueError(f"invalid order: {message['body'][:100]!r}")
    print(f"processed message {message['messageId']}: {order}", flush=True)


def handle_batch(event: dict) -> dict:
    failures = []
    for record in event.get("Records", []):
        try:
            process(record)
        except (ValueError, KeyError, TypeError) as error:
            print(f"failed message {record.get('messageId')}: {error}", flush=True)
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the adapter reuses its connection

    def do_GET(self):  # readiness check (AWS_LWA_READINESS_CHECK_PATH, default /)
        self.reply(200, {"status": "ready"})

    def do_POST(self):
        if self.path != PASS_THROUGH_PATH:
            self.reply(404, {"error": f"no route for POST {self.path}"})
            return
        length = int(self.headers.get("content-length", "0"))
        try:
            event = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as error:
            self.reply(400, {"error": f"the event is not JSON: {error}"})
            return
        self.reply(200, handle_batch(event))

    def reply(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
