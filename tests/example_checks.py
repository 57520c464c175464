"""Checks for tests/examples.sh: what an example function answered, and how a streamed answer
arrived.

  example_checks.py check FILE KIND STATUS EXPECTED
      FILE is a function result (as Lambda returns it: --invoke output or RIE's answer) or a
      front-door capture written by `fetch`. KIND:
        http    buffered response JSON; statusCode == STATUS; the body contains each part
        png     buffered, base64-encoded body that is a PNG image
        sse     streamed text/event-stream; every part arrives, in order, and was streamed
        html    streamed text/html; every part arrives, in order, and was streamed
        streamed  any streamed response (a function in response_stream mode): status, and every
                part in order
        batch   the app's pass-through JSON; batchItemFailures are exactly the given message ids
      EXPECTED is '|'-separated parts ('-' for none). "Was streamed", checked on a front-door
      capture: the first part reached the client before the app rendered the last part of the
      body. The app stamps that part with `rendered-at` (or `rendered_at`) and its clock's
      milliseconds, which a buffered relay could never beat.

  example_checks.py fetch EVENT_FILE HOST:PORT OUT_FILE [SECONDS]
      Sends the request an HTTP API (payload 2.0) event describes to the emulator's front door
      and records each piece of the response body with the time it arrived (epoch ms).
"""

import base64
import http.client
import json
import re
import sys
import time

# The streamed kinds: the content type each must have (None: any), and whether the check
# proves the response was streamed.
STREAM_TYPES = {"sse": "text/event-stream", "html": "text/html", "streamed": None}
PROVE_STREAMED = ("sse", "html")
# `data-rendered-at="1796292912668"` (HTML), `\"data-rendered-at\":1796...` (a React payload),
# `"rendered_at": 1796...` (JSON).
RENDERED_AT = re.compile(rb"rendered[-_]at\W{1,4}(\d{12,14})")


class CheckFailed(Exception):
    pass


def fetch(event_path, front_door, out_path, seconds="60"):
    event = json.load(open(event_path, encoding="utf-8"))
    http_ctx = event["requestContext"]["http"]
    target = event["rawPath"] + ("?" + event["rawQueryString"] if event.get("rawQueryString") else "")
    body = event.get("body")
    if body is not None:
        body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() not in ("host", "content-length")}
    host, port = front_door.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=float(seconds))
    conn.request(http_ctx["method"], target, body=body, headers=headers)
    response = conn.getresponse()
    pieces = []
    while True:
        piece = response.read1(65536)
        if not piece:
            break
        pieces.append([time.time() * 1000, base64.b64encode(piece).decode()])
    capture = {"status": response.status, "headers": dict(response.getheaders()), "pieces": pieces}
    json.dump(capture, open(out_path, "w", encoding="utf-8"))


def stream_parts_in_order(body, parts):
    at = 0
    for p in parts:
        found = body.find(p.encode(), at)
        if found < 0:
            raise CheckFailed(f"stream lacks {p!r} (in order)")
        at = found + len(p)


def check_stream(raw, kind, status, parts):
    want_type = STREAM_TYPES[kind]
    try:
        capture = json.loads(raw)
    except ValueError:
        capture = None
    if isinstance(capture, dict) and "pieces" in capture:
        # A front-door capture: HTTP status and headers, then the body piece by piece.
        head_status = capture["status"]
        ctype = {k.lower(): v for k, v in capture["headers"].items()}.get("content-type", "")
        pieces = [(at, base64.b64decode(data)) for at, data in capture["pieces"]]
        body = b"".join(data for _, data in pieces)
    else:
        # A function result: prelude JSON, 8 NUL bytes, body (or the body alone).
        prelude, sep, body = raw.partition(b"\0" * 8)
        if not sep:
            head_status, ctype, body = int(status), want_type or "", raw
        else:
            head = json.loads(prelude)
            head_status = head.get("statusCode")
            ctype = {k.lower(): v for k, v in head.get("headers", {}).items()}.get("content-type", "")
        pieces = None
    if head_status != int(status):
        raise CheckFailed(f"status {head_status}, want {status}")
    if want_type and not ctype.startswith(want_type):
        raise CheckFailed(f"content-type {ctype!r}, want {want_type}")
    if parts != ["-"]:
        stream_parts_in_order(body, parts)
    if pieces is None or kind not in PROVE_STREAMED:
        return
    seen, first_at = b"", None
    for at, data in pieces:
        seen += data
        if parts[0].encode() in seen:
            first_at = at
            break
    stamps = [int(m) for m in RENDERED_AT.findall(body)]
    if not stamps:
        raise CheckFailed("no rendered-at stamp in the body: cannot tell streamed from buffered")
    if not first_at < max(stamps):
        raise CheckFailed(
            f"{parts[0]!r} arrived at {first_at:.0f} ms, after the app rendered the last part "
            f"({max(stamps)} ms): the response was buffered, not streamed ({len(pieces)} pieces)"
        )
    print(f"     streamed: {parts[0]!r} arrived {max(stamps) - first_at:.0f} ms before the app "
          f"rendered the last part ({len(pieces)} pieces)")


def check(path, kind, status, expected):
    raw = open(path, "rb").read()
    parts = expected.split("|")
    if kind in ("http", "png"):
        try:
            r = json.loads(raw)
            body = r.get("body") or ""
            body = base64.b64decode(body) if r.get("isBase64Encoded") else body.encode()
        except (ValueError, AttributeError) as e:
            raise CheckFailed(f"not a Lambda HTTP response ({e})") from e
        if r.get("statusCode") != int(status):
            raise CheckFailed(f"statusCode {r.get('statusCode')}, want {status}")
        if kind == "png":
            if not r.get("isBase64Encoded") or not body.startswith(b"\x89PNG\r\n\x1a\n"):
                raise CheckFailed("not a base64-encoded PNG")
        for p in parts if kind == "http" and parts != ["-"] else []:
            if p.encode() not in body:
                raise CheckFailed(f"body lacks {p!r}")
    elif kind in STREAM_TYPES:
        check_stream(raw, kind, status, parts)
    elif kind == "batch":
        try:
            ids = [f["itemIdentifier"] for f in json.loads(raw)["batchItemFailures"]]
        except (ValueError, KeyError, TypeError) as e:
            raise CheckFailed(f"no batchItemFailures ({e})") from e
        if ids != parts:
            raise CheckFailed(f"batchItemFailures {ids}, want {parts}")
    else:
        raise CheckFailed(f"unknown kind {kind}")


def main(argv):
    if len(argv) >= 5 and argv[0] == "check":
        try:
            check(*argv[1:5])
        except CheckFailed as e:
            raw = open(argv[1], "rb").read()
            print(f"     {e}; got: {raw[:400]!r}")
            return 1
        return 0
    if len(argv) in (4, 5) and argv[0] == "fetch":
        fetch(*argv[1:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
